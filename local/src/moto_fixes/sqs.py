"""SQS: a FIFO long poll that waits instead of spinning.

`SQSBackend.receive_message` (moto/sqs/models.py) loops until it has a message or the wait
time is over, calling `Queue.wait_for_messages(1)` between rounds. That waits for "a visible
message exists", which is true at once when the only visible messages belong to FIFO
groups with a message in flight: the loop then spins for the whole wait time (a second of
CPU per empty one-second poll). Here, in that case, the wait lasts until something is sent
to the queue (moto notifies on every send) or the next in-flight or delayed message becomes
visible, whichever is first; the other case is moto's own wait.
"""
from moto.core.utils import unix_time_millis
from moto.sqs.models import Queue

# Never sleep longer than moto's own round, nor in slices too thin to matter.
_LONGEST_WAIT_SECONDS = 1.0
_SHORTEST_WAIT_SECONDS = 0.005


def apply() -> None:
    Queue.wait_for_messages = wait_for_messages


def wait_for_messages(self, timeout):
    with self._messages_lock:
        if not self.messages:
            self._messages_lock.wait_for(lambda: self.messages, timeout=timeout)
            return
        # Visible messages exist but the caller could take none of them (their groups are
        # in flight): only a send or a visibility change can make that different.
        self._messages_lock.wait(timeout=_until_next_visibility_change(self, timeout))


def _until_next_visibility_change(queue, timeout) -> float:
    now = unix_time_millis()
    upcoming = [
        moment
        for message in queue._messages
        for moment in (message.visible_at, message.delayed_until)
        if moment >= now
    ]
    wait = min(timeout, _LONGEST_WAIT_SECONDS)
    if upcoming:
        # moto counts a message visible one millisecond after its moment.
        wait = min(wait, (min(upcoming) - now + 1) / 1000.0)
    return max(wait, _SHORTEST_WAIT_SECONDS)
