"""Bounded memory: what moto would keep forever is dropped once nobody can need it.

AWS keeps a finished Step Functions execution for 90 days; local mode keeps it for
GENNAKER_EMULATOR_RETENTION_SECONDS (an hour by default), far longer than the reconciler's
grace period (functions/orchestrator/src/reconcile.rs reads a stage run's end to decide
whether to run it again, minutes after it ended). A background pass drops:

- finished executions (with their history) that stopped longer ago than the retention;
- the finished threads moto lists in `moto.stepfunctions.parser.utils.TMP_THREADS`;
- receipt handles of deleted SQS messages (moto remembers them so a repeated delete still
  succeeds): each is remembered for one to two retention periods;
- DynamoDB Streams shard iterators, which moto stores for every GetRecords answer: each
  lives 15 to 30 minutes (AWS lets an iterator expire after 15).
"""
import datetime
import os
import threading
import time

from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

ITERATOR_LIFETIME_SECONDS = 15 * 60


def retention_seconds() -> float:
    return float(os.environ.get("GENNAKER_EMULATOR_RETENTION_SECONDS", "3600"))


def apply() -> None:
    retention = retention_seconds()
    thread = threading.Thread(
        target=_trim_forever, args=(retention,), name="gennaker-retention", daemon=True
    )
    thread.start()


def _trim_forever(retention: float) -> None:
    interval = max(0.2, min(60.0, retention / 4))
    next_handles = next_iterators = time.monotonic()
    seen_iterators: set = set()
    while True:
        time.sleep(interval)
        try:
            _drop_finished_executions(retention)
            _drop_dead_threads()
            now = time.monotonic()
            if now >= next_handles:
                _age_deleted_receipt_handles()
                next_handles = now + retention
            if now >= next_iterators:
                seen_iterators = _drop_old_iterators(seen_iterators)
                next_iterators = now + ITERATOR_LIFETIME_SECONDS
        except Exception as error:  # noqa: BLE001 - a failed pass must not stop the next
            print(f"gennaker: trimming emulator state failed: {error!r}", flush=True)


def _backends(backend_dict):
    for account in list(dict.values(backend_dict)):
        yield from list(dict.values(account))


def _drop_finished_executions(retention: float) -> None:
    cutoff = datetime.datetime.now(tz=datetime.timezone.utc) - datetime.timedelta(
        seconds=retention
    )
    for backend in _backends(stepfunctions_parser_backends):
        for machine in list(backend.state_machines):
            # Removed one by one: StartExecution may be appending to the same list.
            for execution in [e for e in machine.executions if _stopped_before(e, cutoff)]:
                machine.executions.remove(execution)


def _stopped_before(execution, cutoff) -> bool:
    stopped = getattr(execution, "stop_date", None)
    return stopped is not None and stopped < cutoff


def _drop_dead_threads() -> None:
    threads = parser_utils.TMP_THREADS
    threads[:] = [thread for thread in threads if thread.is_alive()]


class _RecentHandles(set):
    """Handles deleted since the last pass, still answering for those of the pass before."""

    def __init__(self, older):
        super().__init__()
        self.older = older

    def __contains__(self, handle) -> bool:
        return set.__contains__(self, handle) or handle in self.older


def _age_deleted_receipt_handles() -> None:
    for backend in _backends(sqs_backends):
        for queue in list(backend.queues.values()):
            queue.deleted_messages = _RecentHandles(older=set(queue.deleted_messages))


def _drop_old_iterators(seen_last_pass: set) -> set:
    """Drops iterators that were already there a pass ago; returns those left."""
    left: set = set()
    for backend in _backends(dynamodbstreams_backends):
        iterators = backend.shard_iterators
        for arn in list(iterators):
            if arn in seen_last_pass:
                iterators.pop(arn, None)
            else:
                left.add(arn)
    return left
