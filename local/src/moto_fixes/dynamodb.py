"""DynamoDB: transactions and queries that cost what they touch, not the table size.

- `DynamoDBBackend.transact_write_items` (moto/dynamodb/models/__init__.py) deep-copies the
  whole table once per item of the transaction, to roll back on failure. Replaced by the
  same algorithm that snapshots only the items it is about to change (and the stream's
  length) and puts exactly those back on failure.
- `Table.query` (moto/dynamodb/models/table.py) reads `Table.all_items()`, which builds and
  sorts every item of the table, then keeps one partition. Here `all_items()` hands that
  query only the candidates of its partition (base table: `table.items[hash]`; a secondary
  index: a hash-value -> items index built on the index's first query, each partition kept
  in the order moto's sort would give), and moto's own key conditions, Limit,
  ExclusiveStartKey and filters run on them; moto's sort of an index partition (the whole
  partition, every query) is skipped when the partition is already in that order.
  The index is kept current on every path that changes items: `Table.put_item` and
  `Table.delete_item` (PutItem, BatchWriteItem, PartiQL, transactions, imports),
  `DynamoDBBackend.update_item` (which edits the stored item in place) and the rollback
  below; `update_table` drops the table's indexes (an index may have been added or changed).
- `DynamoType.cast_value`, behind every key comparison of a sort, goes through five type
  tests before returning a string as it is, and parses numbers again each time: strings,
  binaries and booleans return at once, parsed numbers are remembered.
- The JSON response serializer walks the ten members of every AttributeValue with alias
  lookups. An AttributeValue made only of strings, numbers, sets of them, booleans, nulls,
  maps and lists is already its own JSON form and is passed through; binary values still
  take moto's path.
- moto answers requests on many threads and checks a write's ConditionExpression apart from
  making the write, so two conditional writes of one item at the same instant could both
  succeed (two judges of one manual judgment both got 200). DynamoDB makes each write's
  condition and change one atomic step; here every write request runs under one lock.
"""
import bisect
import copy
import functools
import threading
from decimal import Decimal

from moto.core.serialize import JSONSerializer
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import GlobalSecondaryIndex, Table
from moto.dynamodb.responses import DynamoHandler


def apply() -> None:
    _atomic_writes()
    _faster_cast_value()
    _query_reads_its_partition()
    _keep_indexes_current()
    DynamoDBBackend.transact_write_items = transact_write_items
    _pass_plain_attribute_values_through()


# ---------------------------------------------------------------- atomic writes

_WRITE_LOCK = threading.RLock()
_WRITE_ACTIONS = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")


def _atomic_writes() -> None:
    for action in _WRITE_ACTIONS:
        setattr(DynamoHandler, action, _under_write_lock(getattr(DynamoHandler, action)))


def _under_write_lock(handler):
    @functools.wraps(handler)
    def locked(self):
        with _WRITE_LOCK:
            return handler(self)

    return locked


# ---------------------------------------------------------------- partition indexes

_INDEX_LOCK = threading.RLock()
_candidates = threading.local()


class _Partition:
    """The items of one index hash value, in the order moto's index sort gives them."""

    def __init__(self):
        self.sort_keys: list = []
        self.items: list = []
        self.sort_key_of: dict = {}
        self.unsortable: dict = {}  # items whose keys cannot be ordered like moto does

    def add(self, key, item, sort_key) -> None:
        if sort_key is None:
            self.unsortable[key] = item
            return
        at = bisect.bisect_right(self.sort_keys, sort_key)
        self.sort_keys.insert(at, sort_key)
        self.items.insert(at, item)
        self.sort_key_of[key] = sort_key

    def remove(self, key) -> None:
        if self.unsortable.pop(key, None) is not None:
            return
        sort_key = self.sort_key_of.pop(key, None)
        if sort_key is None:
            return
        at = bisect.bisect_left(self.sort_keys, sort_key)
        while at < len(self.items) and _key_of(self.items[at]) != key:
            at += 1
        if at < len(self.items):
            del self.sort_keys[at]
            del self.items[at]

    def __len__(self) -> int:
        return len(self.sort_key_of) + len(self.unsortable)


class _HashIndex:
    """Items of a table grouped by the value of a secondary index's (first) hash key."""

    def __init__(self, table: Table, index, attribute: str):
        self.attribute = attribute
        self.sort_attributes = _index_sort_attributes(table, index)
        self.declared = {a["AttributeName"]: a["AttributeType"] for a in table.attr}
        self.by_value: dict = {}
        self.value_of: dict = {}
        for item in _stored_items(table):
            self._add(_key_of(item), item)

    def _add(self, key, item) -> None:
        value = item.attrs.get(self.attribute)
        if value is None:
            return
        self.value_of[key] = value
        self.by_value.setdefault(value, _Partition()).add(key, item, self._sort_key(item))

    def _sort_key(self, item):
        """moto's sort key of the item in this index, or None when not comparable that way."""
        if self.sort_attributes is None:
            return None
        values = []
        for name in self.sort_attributes:
            value = item.attrs.get(name)
            if value is None or value.type not in ("S", "N", "B"):
                return None
            if self.declared.get(name, value.type) != value.type:
                return None
            values.append(value.cast_value)
        return tuple(values)

    def refresh(self, key, item) -> None:
        old = self.value_of.pop(key, None)
        if old is not None:
            partition = self.by_value.get(old)
            if partition is not None:
                partition.remove(key)
                if not len(partition):
                    del self.by_value[old]
        if item is not None:
            self._add(key, item)

    def candidates(self, value):
        """(items in moto's index order, True) or (items in no order, False)."""
        partition = self.by_value.get(value)
        if partition is None:
            return [], True
        if partition.unsortable:
            return list(partition.items) + list(partition.unsortable.values()), False
        return list(partition.items), True


def _index_sort_attributes(table: Table, index):
    """The attributes moto's Table.query sorts an index partition by, minus the index hash
    key (equal within a partition); None for indexes with several hash keys."""
    hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hash_keys) != 1:
        return None
    if range_keys:
        range_attrs = range_keys + [table.range_key_attr]
    elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
        range_attrs = [table.range_key_attr, table.range_key_attr]
    else:
        range_attrs = [table.hash_key_attr, table.range_key_attr]
    attributes = table._generate_attr_to_sort_by(hash_keys + [table.hash_key_attr], range_attrs)
    return attributes[1:]


def _stored_items(table: Table):
    for stored in list(table.items.values()):
        if table.range_key_attr:
            yield from list(stored.values())
        else:
            yield stored


def _key_of(item: Item):
    return (item.hash_key, item.range_key)


def _stored_item(table: Table, hash_key, range_key):
    stored = table.items.get(hash_key)
    if stored is None:
        return None
    if table.range_key_attr:
        return stored.get(range_key) if range_key is not None else None
    return stored


def _indexes(table: Table) -> dict:
    indexes = table.__dict__.get("_gennaker_indexes")
    if indexes is None:
        indexes = {}
        table.__dict__["_gennaker_indexes"] = indexes
    return indexes


def item_changed(table: Table, hash_key, range_key) -> None:
    """Brings the table's secondary-index partitions up to date for one key."""
    indexes = table.__dict__.get("_gennaker_indexes")
    if not indexes:
        return
    with _INDEX_LOCK:
        item = _stored_item(table, hash_key, range_key)
        for index in indexes.values():
            index.refresh((hash_key, range_key), item)


def forget_indexes(table: Table) -> None:
    with _INDEX_LOCK:
        table.__dict__.pop("_gennaker_indexes", None)


def _partition_candidates(table: Table, hash_key, index_name, hash_key_conditions):
    """(the items a query can match, a superset; whether they are in moto's index order),
    or (None, False) to let moto read every item.

    The order of candidates only matters to moto's own sort for items with equal sort keys,
    and sort keys end with the table's key, which no two items share."""
    if not index_name:
        if hash_key is None:
            return None, False
        stored = table.items.get(hash_key)
        if stored is None:
            return [], False
        if table.range_key_attr:
            return list(stored.values()), False
        return [stored], False
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None or not hash_key_conditions:
        return None, False  # moto raises its own error, or reads everything
    hash_attributes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    if not hash_attributes:
        return None, False
    attribute = hash_attributes[0]
    wanted = dict(hash_key_conditions).get(attribute)
    if wanted is None:
        return None, False
    if attribute == table.hash_key_attr and not isinstance(index, GlobalSecondaryIndex):
        return _partition_candidates(table, wanted, None, None)
    with _INDEX_LOCK:
        indexes = _indexes(table)
        hash_index = indexes.get(index_name)
        if hash_index is None:
            hash_index = _HashIndex(table, index, attribute)
            indexes[index_name] = hash_index
        return hash_index.candidates(wanted)


def _query_reads_its_partition() -> None:
    stock_query = Table.query
    stock_all_items = Table.all_items
    stock_sorted_items = Table.sorted_items

    def all_items(self):
        offered = getattr(_candidates, "value", None)
        if offered is not None and offered[0] is self:
            return offered[1]
        return stock_all_items(self)

    def sorted_items(self, hash_key_attrs, range_key_attrs, items):
        offered = getattr(_candidates, "value", None)
        if offered is not None and offered[0] is self and offered[2]:
            return items  # a filtered subsequence of a partition already in this order
        return stock_sorted_items(self, hash_key_attrs, range_key_attrs, items)

    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
              scan_index_forward, projection_expressions, index_name=None,
              consistent_read=False, filter_expression=None, hash_key_conditions=None,
              range_key_conditions=None, **filter_kwargs):
        candidates, in_order = _partition_candidates(
            self, hash_key, index_name, hash_key_conditions
        )
        _candidates.value = None if candidates is None else (self, candidates, in_order)
        try:
            return stock_query(
                self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                scan_index_forward, projection_expressions, index_name=index_name,
                consistent_read=consistent_read, filter_expression=filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions, **filter_kwargs,
            )
        finally:
            _candidates.value = None

    Table.all_items = all_items
    Table.sorted_items = sorted_items
    Table.query = query


def _keep_indexes_current() -> None:
    stock_put = Table.put_item
    stock_delete = Table.delete_item
    stock_update = DynamoDBBackend.update_item
    stock_update_table = DynamoDBBackend.update_table

    def put_item(self, item_attrs, *args, **kwargs):
        item = stock_put(self, item_attrs, *args, **kwargs)
        item_changed(self, item.hash_key, item.range_key)
        return item

    def delete_item(self, hash_key, range_key):
        try:
            return stock_delete(self, hash_key, range_key)
        finally:
            item_changed(self, hash_key, range_key)

    def update_item(self, table_name, key, *args, **kwargs):
        try:
            return stock_update(self, table_name, key, *args, **kwargs)
        finally:
            _after_update(self, table_name, key)

    def update_table(self, name, *args, **kwargs):
        try:
            return stock_update_table(self, name, *args, **kwargs)
        finally:
            table = self.tables.get(name)
            if table is not None:
                forget_indexes(table)

    Table.put_item = put_item
    Table.delete_item = delete_item
    DynamoDBBackend.update_item = update_item
    DynamoDBBackend.update_table = update_table


def _after_update(backend, table_name, key) -> None:
    table = backend.tables.get(table_name)
    if table is None:
        return
    try:
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = (
            DynamoType(key[table.range_key_attr])
            if table.range_key_attr and table.range_key_attr in key
            else None
        )
    except (KeyError, TypeError, AttributeError):
        forget_indexes(table)  # a key moto itself will have refused; rebuild to be sure
        return
    item_changed(table, hash_key, range_key)


def _faster_cast_value() -> None:
    stock = DynamoType.cast_value.fget
    number = functools.lru_cache(maxsize=65536)(Decimal)

    def cast_value(self):
        kind = self.type
        if kind == "S" or kind == "B" or kind == "BOOL":
            return self.value
        if kind == "N":
            return number(self.value)
        return stock(self)

    DynamoType.cast_value = property(cast_value)


# ---------------------------------------------------------------- transactions


class _Undo:
    """What a transaction changed, to put back exactly that if it fails."""

    def __init__(self):
        self.items: list = []  # (table, hash, range, item copy or None, partition existed)
        self.stream_lengths: dict = {}  # id(table) -> (table, length)

    def before_change(self, table: Table, hash_key, range_key) -> None:
        if id(table) not in self.stream_lengths:
            shard = table.stream_shard
            self.stream_lengths[id(table)] = (table, None if shard is None else len(shard.items))
        current = _stored_item(table, hash_key, range_key)
        self.items.append(
            (table, hash_key, range_key, copy.deepcopy(current), hash_key in table.items)
        )

    def roll_back(self) -> None:
        for table, hash_key, range_key, saved, partition_existed in reversed(self.items):
            if table.range_key_attr:
                if saved is not None:
                    table.items[hash_key][range_key] = saved
                else:
                    partition = table.items.get(hash_key)
                    if partition is not None:
                        partition.pop(range_key, None)
                        if not partition and not partition_existed:
                            del table.items[hash_key]
            elif saved is not None:
                table.items[hash_key] = saved
            else:
                table.items.pop(hash_key, None)
            item_changed(table, hash_key, range_key)
        for table, length in self.stream_lengths.values():
            if length is not None and table.stream_shard is not None:
                del table.stream_shard.items[length:]


def transact_write_items(self, transact_items):
    """moto 5.2.5's algorithm, step for step, with an item-level undo instead of table copies."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items = set()

    def check_unicity(table_name, key):
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors = []
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get(
                "ReturnValuesOnConditionCheckFailure"
            )

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type != "ConditionCheck":
                table = self.get_table(table_name)
                undo.before_change(table, *self.get_keys_value(table, key))

            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.roll_back()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto reports any failure per item
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        undo.roll_back()
        raise TransactionCanceledException(errors)


# ---------------------------------------------------------------- response encoding

_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_SETS = ("SS", "NS")


def _plain(value) -> bool:
    """True when an AttributeValue has no binary part, so moto's walk would return it as is."""
    if type(value) is not dict or len(value) != 1:
        return False
    (kind, inner), = value.items()
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        return type(inner) is scalar
    if kind in _SETS:
        return type(inner) is list and all(type(v) is str for v in inner)
    if kind == "M":
        return type(inner) is dict and all(
            type(k) is str and _plain(v) for k, v in inner.items()
        )
    if kind == "L":
        return type(inner) is list and all(_plain(v) for v in inner)
    return False


def _pass_plain_attribute_values_through() -> None:
    stock = JSONSerializer._serialize

    def _serialize(self, serialized, value, shape, key):
        if shape.name == "AttributeValue" and key and _plain(value):
            serialized[self.get_serialized_name(shape, key)] = value
            return
        stock(self, serialized, value, shape, key)

    JSONSerializer._serialize = _serialize
