"""SQS: a FIFO long poll that waits instead of spinning.

`SQSBackend.receive_message` (moto/sqs/models.py) loops until it has a message or the wait
time is over, calling `Queue.wait_for_messages(1)` between rounds. That waits for "a visible
message exists", which is true at once when the only visible messages belong to FIFO
groups with a message in flight: the loop then spins for the whole wait time (a second of
CPU per empty one-second poll). Here, in that case, the wait lasts until something is sent
to the queue (moto notifies on every send) or the next in-flight or delayed message becomes
visible, whichever is first; the other case is moto's own wait.

SQS: counting a queue's messages reads the clock once, not once per message.

`Queue.messages` and the `ApproximateNumberOfMessages*` counts ask every message whether it
is visible or delayed (`Message.visible`, `Message.delayed`), and each answer reads the clock.
`Queue.attributes` computes all three counts whenever any attribute is read, and
`SQSBackend.send_message` reads `ContentBasedDeduplication` through it several times per send,
`SQSBackend.receive_message` `MessageRetentionPeriod` (via `is_message_valid_based_on_retention_
period`) for every message it hands out. With a few hundred messages queued, as when many
executions run at once, every send and receive then cost milliseconds of the emulator's one
core, and a receive grew with the square of the queue. Here each pass reads the clock once
(the same comparisons as `Message.visible` and `Message.delayed`), and the retention check
reads the queue's retention period directly.
"""
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.models import Queue, SQSBackend

# Never sleep longer than moto's own round, nor in slices too thin to matter.
_LONGEST_WAIT_SECONDS = 1.0
_SHORTEST_WAIT_SECONDS = 0.005


def apply() -> None:
    Queue.wait_for_messages = wait_for_messages
    Queue.messages = property(_visible_messages)
    Queue.approximate_number_of_messages_delayed = property(_delayed_count)
    Queue.approximate_number_of_messages_not_visible = property(_not_visible_count)
    SQSBackend.is_message_valid_based_on_retention_period = _within_retention


def _visible_messages(self):
    now = unix_time_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed_count(self) -> int:
    now = unix_time_millis()
    return sum(1 for m in self._messages if now < m.delayed_until)


def _not_visible_count(self) -> int:
    now = unix_time_millis()
    return sum(1 for m in self._messages if not now > m.visible_at)


def _within_retention(self, queue_name, message) -> bool:
    retention_period = self.get_queue(queue_name).message_retention_period
    return retention_period + message.sent_timestamp / 1000 > unix_time()


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
