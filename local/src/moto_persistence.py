"""Durable DynamoDB state for local mode: a journal of acknowledged writes, and snapshots.

With GENNAKER_DATA_DIR=DIR, moto_server.py calls apply() before the server starts. Every
successful state-changing DynamoDB request (PutItem, UpdateItem, DeleteItem,
BatchWriteItem, TransactWriteItems) appends one line to DIR/journal.jsonl holding the
after-image of every item it touched (the item as stored afterwards, or null when it is
gone), and the line is flushed and fsynced before the response is sent: a write that was
answered survives a kill -9 of either process. The request and its journal line run under
one lock, so the journal's order is the order the writes took effect.

On start the snapshot (DIR/snapshot.json) and the journal are read completely and checked
before anything is loaded; an unreadable or unknown format stops the emulator with a
message instead of loading part of it. Only the journal's last line may be cut short (a
write that was never answered): it is dropped. The state is then folded into a new
snapshot (written aside, fsynced, renamed over the old one) and the journal starts empty;
the same compaction runs whenever the journal outgrows JOURNAL_LIMIT_BYTES. A table's
items are put back when local mode creates the table again from template.yaml, through
moto's own put path, so secondary indexes, the moto fixes' partition indexes and the
table's stream see them like any write (the pipelines table's stream is how cron
schedules are rebuilt).

Only DynamoDB is kept: it holds everything Gennaker owns (applications, pipeline configs
and their history, executions, notification preferences, trigger indexes, watermarks).
SQS messages and Step Functions runs are not kept; the reconciler recovers the executions
they belonged to (see local/src/host.rs). Writes from an item's TTL are not made by moto.

Works on stock and fixed moto alike (it wraps moto's response handlers, not the fixes).
"""
import base64
import json
import os
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

FORMAT = "gennaker-local-state"
# Bump on any change of the files' meaning; older data is then refused with a message.
VERSION = 1
SNAPSHOT = "snapshot.json"
JOURNAL = "journal.jsonl"
JOURNAL_LIMIT_BYTES = 32 * 1024 * 1024


class StateError(Exception):
    pass


class _State:
    """The items of every table as the journal says they are: (account, region, table) ->
    canonical key -> [key, item]. Mirrors the emulator's tables, so a snapshot never has to
    read moto's structures."""

    def __init__(self, directory):
        self.directory = directory
        self.tables = {}
        self.lock = threading.RLock()
        self.journal = None

    # ------------------------------------------------------------ start

    def load(self):
        snapshot = self._read_snapshot()
        records = self._read_journal()
        for table in snapshot.get("tables", []):
            items = self.tables.setdefault(_table_id(table), {})
            for key, item in table["items"]:
                items[_canonical(key)] = [key, item]
        for record in records:
            self._apply(record)

    def _read_snapshot(self):
        path = os.path.join(self.directory, SNAPSHOT)
        if not os.path.exists(path):
            return {}
        try:
            with open(path, encoding="utf-8") as file:
                snapshot = json.load(file)
        except (OSError, ValueError) as error:
            raise StateError(f"{path} cannot be read ({error})") from error
        _check_format(snapshot, path)
        return snapshot

    def _read_journal(self):
        path = os.path.join(self.directory, JOURNAL)
        if not os.path.exists(path):
            return []
        with open(path, "rb") as file:
            lines = file.read().split(b"\n")
        # The text after the last newline was never fsynced whole: its write was never
        # answered, so it is dropped (a complete file ends with a newline).
        lines.pop()
        if not lines:
            return []
        try:
            header = json.loads(lines[0])
        except ValueError as error:
            raise StateError(f"{path} has no readable header ({error})") from error
        _check_format(header, path)
        records = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                records.append(json.loads(line))
            except ValueError as error:
                raise StateError(f"{path} line {number} is damaged ({error})") from error
        return records

    # ------------------------------------------------------------ writing

    def _apply(self, record):
        for account, region, table, key, item in record.get("w", []):
            items = self.tables.setdefault((account, region, table), {})
            if item is None:
                items.pop(_canonical(key), None)
            else:
                items[_canonical(key)] = [key, item]
        for account, region, table in record.get("drop", []):
            self.tables.pop((account, region, table), None)

    def record(self, record):
        """Applies `record` to the mirror and makes it durable before returning."""
        self._apply(record)
        line = json.dumps(record, separators=(",", ":"), default=_jsonable).encode() + b"\n"
        self.journal.write(line)
        self.journal.flush()
        os.fdatasync(self.journal.fileno())
        if self.journal.tell() > JOURNAL_LIMIT_BYTES:
            self.compact()

    def compact(self):
        """Writes the whole state as the snapshot and starts an empty journal. A crash at
        any point leaves either the old snapshot with the old journal, or the new snapshot
        with a journal whose records it already holds (after-images apply twice alike)."""
        tables = [
            {"account": account, "region": region, "table": table, "items": list(items.values())}
            for (account, region, table), items in sorted(self.tables.items())
        ]
        snapshot = {"format": FORMAT, "version": VERSION, "tables": tables}
        _write_durably(
            os.path.join(self.directory, SNAPSHOT), json.dumps(snapshot, default=_jsonable).encode()
        )
        header = json.dumps({"format": FORMAT, "version": VERSION}).encode() + b"\n"
        _write_durably(os.path.join(self.directory, JOURNAL), header)
        if self.journal is not None:
            self.journal.close()
        self.journal = open(os.path.join(self.directory, JOURNAL), "ab")

    def items_of(self, account, region, table):
        return [item for _, item in self.tables.get((account, region, table), {}).values()]


def _check_format(document, path):
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateError(f"{path} is not Gennaker local state")
    if document.get("version") != VERSION:
        raise StateError(
            f"{path} was written in format version {document.get('version')!r}; this "
            f"Gennaker reads version {VERSION} only"
        )


def _write_durably(path, data):
    aside = path + ".new"
    with open(aside, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(aside, path)
    directory = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _table_id(table):
    return (table["account"], table["region"], table["table"])


def _canonical(key):
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value):
    """A binary key value as it travels in AWS's JSON (parsed requests hold bytes)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# ---------------------------------------------------------------- moto hooks

_state = None


def apply():
    global _state
    directory = os.environ.get("GENNAKER_DATA_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    _take_directory_lock(directory)
    state = _State(directory)
    try:
        state.load()
    except StateError as error:
        sys.exit(
            f"gennaker: the local state in {directory} cannot be loaded: {error}. Nothing was "
            f"loaded. Start with --reset to discard it, or choose another --data-dir."
        )
    state.compact()
    _state = state
    for action in ("put_item", "update_item", "delete_item", "batch_write_item",
                   "transact_write_items"):
        setattr(DynamoHandler, action, _journaled(getattr(DynamoHandler, action), action))
    _restore_tables_when_created()
    _forget_deleted_tables()


def _take_directory_lock(directory):
    import fcntl

    lock = open(os.path.join(directory, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"gennaker: {directory} is in use by another local mode; choose another --data-dir")
    # Held (and kept open) for the life of the process.
    apply.directory_lock = lock


def _journaled(handler, action):
    def journaled(self):
        with _state.lock:
            result = handler(self)
            backend = self.dynamodb_backend
            writes = [
                [backend.account_id, backend.region_name, table, key, _stored(backend, table, key)]
                for table, key in _touched_keys(backend, action, self.body)
            ]
            if writes:
                _state.record({"w": writes})
            return result

    journaled.__name__ = handler.__name__
    journaled.__doc__ = handler.__doc__
    return journaled


def _touched_keys(backend, action, body):
    """(table name, key) of every item a successful request of `action` may have changed."""
    if action == "put_item":
        return [(body["TableName"], _key_of(backend, body["TableName"], body["Item"]))]
    if action in ("update_item", "delete_item"):
        return [(body["TableName"], _key_of(backend, body["TableName"], body["Key"]))]
    if action == "batch_write_item":
        touched = []
        for table, requests in body["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    touched.append((table, _key_of(backend, table, request["PutRequest"]["Item"])))
                elif "DeleteRequest" in request:
                    touched.append((table, _key_of(backend, table, request["DeleteRequest"]["Key"])))
        return touched
    touched = []
    for item in body["TransactItems"]:
        for kind, operation in item.items():
            if kind == "Put":
                touched.append((operation["TableName"], _key_of(backend, operation["TableName"], operation["Item"])))
            elif kind in ("Update", "Delete"):
                touched.append((operation["TableName"], _key_of(backend, operation["TableName"], operation["Key"])))
    return touched


def _key_of(backend, table_name, attributes):
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    return key


def _stored(backend, table_name, key):
    item = backend.get_item(table_name, key)
    return None if item is None else item.to_json()["Attributes"]


def _restore_tables_when_created():
    stock = DynamoDBBackend.create_table

    def create_table(self, name, *args, **kwargs):
        table = stock(self, name, *args, **kwargs)
        with _state.lock:
            for item in _state.items_of(self.account_id, self.region_name, name):
                table.put_item(item)
        return table

    DynamoDBBackend.create_table = create_table


def _forget_deleted_tables():
    stock = DynamoDBBackend.delete_table

    def delete_table(self, name):
        with _state.lock:
            table = stock(self, name)
            _state.record({"drop": [[self.account_id, self.region_name, name]]})
            return table

    DynamoDBBackend.delete_table = delete_table
