"""Runs the same DynamoDB, DynamoDB Streams, SQS and Step Functions calls against stock moto
and moto with Gennaker's fixes (local/src/moto_fixes), through boto3, and requires the two to
observe the same: the fixes may change how fast moto is and how much it keeps, never what
it answers. Started by tests/tests/emulator_fixes.rs with both emulators' endpoints.

    python differential.py STOCK_ENDPOINT FIXED_ENDPOINT STAGE_ASL_PATH

Exit status 0 when every observation matches; otherwise the first differences are printed.
"""
import concurrent.futures
import datetime
import decimal
import difflib
import json
import sys
import threading
import time

import boto3
from botocore.config import Config

REGION = "us-east-1"
VOLATILE_KEYS = {
    "ResponseMetadata", "MessageId", "ReceiptHandle", "eventID", "ApproximateCreationDateTime",
    "SentTimestamp", "ApproximateFirstReceiveTimestamp", "taskToken",
    "CreationDateTime", "LatestStreamLabel", "LatestStreamArn", "StreamArn", "StreamLabel",
    "TableId", "startDate", "stopDate", "timestamp", "redriveDate", "MD5OfMessageAttributes",
}
# In a JSON document inside a string (a state's output): SQS's random sequence numbers.
EMBEDDED_VOLATILE_KEYS = VOLATILE_KEYS | {"SequenceNumber"}


class Emulator:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        config = Config(retries={"max_attempts": 1}, read_timeout=60)

        def client(service):
            return boto3.client(
                service, endpoint_url=endpoint, region_name=REGION, config=config,
                aws_access_key_id="test", aws_secret_access_key="test",
            )

        self.ddb = client("dynamodb")
        self.streams = client("dynamodbstreams")
        self.sqs = client("sqs")
        self.sfn = client("stepfunctions")


def clean(value, endpoint, volatile=VOLATILE_KEYS):
    """The observation without what differs between two correct runs (ids, times, ports)."""
    if isinstance(value, dict):
        return {k: clean(v, endpoint) for k, v in sorted(value.items()) if k not in volatile}
    if isinstance(value, (list, tuple)):
        return [clean(v, endpoint) for v in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return "<time>"
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": value.hex()}
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, str):
        if value.startswith("{"):
            try:
                document = json.loads(value)
            except ValueError:
                pass
            else:  # a JSON document inside a string: an execution's input or output
                return {"json": clean(document, endpoint, EMBEDDED_VOLATILE_KEYS)}
        return value.replace(endpoint, "<endpoint>")
    return value


def call(record, label, fn, **kwargs):
    """Records the answer of one call, or its error code and message."""
    try:
        answer = fn(**kwargs)
        record.append([label, answer])
        return answer
    except fn.__self__.exceptions.ClientError as error:
        response = error.response
        record.append([label, {"error": response["Error"].get("Code"),
                               "message": response["Error"].get("Message"),
                               "reasons": response.get("CancellationReasons")}])
        return None


# ---------------------------------------------------------------- DynamoDB


def create_tables(aws, record):
    ddb = aws.ddb
    call(record, "create main", ddb.create_table,
         TableName="main", BillingMode="PAY_PER_REQUEST",
         AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in [
             ("pk", "S"), ("sk", "S"), ("app", "S"), ("started", "N"), ("owner", "S"),
             ("name", "S"), ("local", "S")]],
         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}],
         GlobalSecondaryIndexes=[
             {"IndexName": "by-app", "KeySchema": [{"AttributeName": "app", "KeyType": "HASH"},
                                                   {"AttributeName": "started", "KeyType": "RANGE"}],
              "Projection": {"ProjectionType": "ALL"}},
             {"IndexName": "by-owner", "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"},
                                                     {"AttributeName": "name", "KeyType": "RANGE"}],
              "Projection": {"ProjectionType": "KEYS_ONLY"}},
             {"IndexName": "hash-only", "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
              "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}},
         ],
         LocalSecondaryIndexes=[
             {"IndexName": "local", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                  {"AttributeName": "local", "KeyType": "RANGE"}],
              "Projection": {"ProjectionType": "ALL"}}],
         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    call(record, "create plain", ddb.create_table,
         TableName="plain", BillingMode="PAY_PER_REQUEST",
         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])


def s(text):
    return {"S": text}


def n(number):
    return {"N": str(number)}


def queries(aws, record, label):
    """Every way the checks read the tables back, paginated to the end."""
    ddb = aws.ddb
    reads = [
        ("app a forward", {"IndexName": "by-app", "KeyConditionExpression": "app = :a",
                           "ExpressionAttributeValues": {":a": s("a")}}),
        ("app a backward", {"IndexName": "by-app", "KeyConditionExpression": "app = :a",
                            "ExpressionAttributeValues": {":a": s("a")}, "ScanIndexForward": False}),
        ("app a range", {"IndexName": "by-app",
                         "KeyConditionExpression": "app = :a AND started BETWEEN :lo AND :hi",
                         "ExpressionAttributeValues": {":a": s("a"), ":lo": n(3), ":hi": n(40)}}),
        ("app b filtered", {"IndexName": "by-app", "KeyConditionExpression": "app = :a",
                            "FilterExpression": "attribute_exists(note)",
                            "ExpressionAttributeValues": {":a": s("b")}}),
        ("owner o1", {"IndexName": "by-owner", "KeyConditionExpression": "#o = :o",
                      "ExpressionAttributeNames": {"#o": "owner"},
                      "ExpressionAttributeValues": {":o": s("o1")}}),
        ("owner o1 prefix", {"IndexName": "by-owner",
                             "KeyConditionExpression": "#o = :o AND begins_with(#n, :p)",
                             "ExpressionAttributeNames": {"#o": "owner", "#n": "name"},
                             "ExpressionAttributeValues": {":o": s("o1"), ":p": s("n1")}}),
        ("hash-only o2", {"IndexName": "hash-only", "KeyConditionExpression": "#o = :o",
                          "ExpressionAttributeNames": {"#o": "owner"},
                          "ExpressionAttributeValues": {":o": s("o2")}}),
        ("local p1", {"IndexName": "local", "KeyConditionExpression": "pk = :p",
                      "ExpressionAttributeValues": {":p": s("p1")}}),
        ("base p1", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": s("p1")}}),
        ("base p1 range", {"KeyConditionExpression": "pk = :p AND sk > :s",
                           "ExpressionAttributeValues": {":p": s("p1"), ":s": s("s05")},
                           "ScanIndexForward": False}),
        ("base p2", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": s("p2")}}),
        ("base absent", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": s("zz")}}),
    ]
    for name, params in reads:
        for limit in (None, 3):
            pages, start = [], None
            while True:
                extra = {"Limit": limit} if limit else {}
                if start:
                    extra["ExclusiveStartKey"] = start
                page = call(pages, "page", ddb.query, TableName="main", **params, **extra)
                if not page or not page.get("LastEvaluatedKey") or len(pages) > 40:
                    break
                start = page["LastEvaluatedKey"]
            record.append([f"{label}: {name} limit {limit}", pages])
    record.append([f"{label}: scan", ddb.scan(TableName="main")])
    record.append([f"{label}: scan plain", ddb.scan(TableName="plain")])


def dynamodb_checks(aws, record):
    ddb = aws.ddb
    create_tables(aws, record)
    # Items spread over partitions, GSI keys of both types, sparse ones, every attribute type.
    for i in range(12):
        item = {"pk": s(f"p{i % 3}"), "sk": s(f"s{i:02d}"), "app": s("a" if i % 2 else "b"),
                "started": n((i * 7) % 50), "local": s(f"l{(i * 5) % 12:02d}")}
        if i % 3:
            item["owner"] = s(f"o{i % 3}")
        if i % 4:
            item["name"] = s(f"n{i}")
        if i % 5 == 0:
            item["note"] = s("kept")
        call(record, f"put {i}", ddb.put_item, TableName="main", Item=item)
    call(record, "put every type", ddb.put_item, TableName="main", Item={
        "pk": s("p1"), "sk": s("types"), "app": s("a"), "started": n("12.50"),
        "str": s(""), "num": n("-0.000120"), "bin": {"B": b"\x00\x01binary"},
        "strs": {"SS": ["x", "y"]}, "nums": {"NS": ["1", "2.5"]}, "bins": {"BS": [b"a", b"\xff"]},
        "map": {"M": {"inner": {"L": [s("v"), n(1), {"B": b"\x02"}, {"NULL": True}]},
                      "flag": {"BOOL": False}}},
        "list": {"L": [{"M": {"k": s("v")}}, {"BOOL": True}]}, "null": {"NULL": True}})
    call(record, "get every type", ddb.get_item, TableName="main",
         Key={"pk": s("p1"), "sk": s("types")})
    for i in range(5):
        call(record, f"plain put {i}", ddb.put_item, TableName="plain",
             Item={"id": s(f"id{i}"), "v": n(i)})
    queries(aws, record, "loaded")

    # Updates that move, add and remove GSI keys; upserts.
    call(record, "move app", ddb.update_item, TableName="main", Key={"pk": s("p1"), "sk": s("s01")},
         UpdateExpression="SET app = :b, started = :t", ExpressionAttributeValues={":b": s("b"), ":t": n(3)},
         ReturnValues="ALL_NEW")
    call(record, "remove owner", ddb.update_item, TableName="main", Key={"pk": s("p2"), "sk": s("s02")},
         UpdateExpression="REMOVE #o", ExpressionAttributeNames={"#o": "owner"}, ReturnValues="ALL_OLD")
    call(record, "remove range of gsi", ddb.update_item, TableName="main",
         Key={"pk": s("p0"), "sk": s("s03")}, UpdateExpression="REMOVE started")
    call(record, "upsert", ddb.update_item, TableName="main", Key={"pk": s("p9"), "sk": s("new")},
         UpdateExpression="SET app = :a, started = :t, #o = :o, #n = :n",
         ExpressionAttributeNames={"#o": "owner", "#n": "name"},
         ExpressionAttributeValues={":a": s("a"), ":t": n(1), ":o": s("o1"), ":n": s("n0")})
    call(record, "conditional update fails", ddb.update_item, TableName="main",
         Key={"pk": s("p1"), "sk": s("s04")}, UpdateExpression="SET app = :b",
         ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":b": s("z")},
         ReturnValuesOnConditionCheckFailure="ALL_OLD")
    call(record, "delete", ddb.delete_item, TableName="main", Key={"pk": s("p0"), "sk": s("s06")},
         ReturnValues="ALL_OLD")
    call(record, "overwrite", ddb.put_item, TableName="main",
         Item={"pk": s("p2"), "sk": s("s05"), "app": s("a"), "started": n(45), "owner": s("o2"), "name": s("n5")})
    queries(aws, record, "updated")

    # Transactions: a late failing condition rolls back a delete, a new put and a GSI move.
    call(record, "failing transaction", ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": "main", "Key": {"pk": s("p1"), "sk": s("s07")}}},
        {"Put": {"TableName": "main", "Item": {"pk": s("p5"), "sk": s("t"), "app": s("a"), "started": n(2)}}},
        {"Update": {"TableName": "main", "Key": {"pk": s("p2"), "sk": s("s08")},
                    "UpdateExpression": "SET app = :z, #o = :o",
                    "ExpressionAttributeNames": {"#o": "owner"},
                    "ExpressionAttributeValues": {":z": s("z"), ":o": s("o9")}}},
        {"Put": {"TableName": "plain", "Item": {"id": s("id9")}}},
        {"ConditionCheck": {"TableName": "main", "Key": {"pk": s("p0"), "sk": s("s00")},
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
    ])
    call(record, "two operations on one item", ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "main", "Item": {"pk": s("p6"), "sk": s("x"), "app": s("a"), "started": n(2)}}},
        {"Update": {"TableName": "main", "Key": {"pk": s("p6"), "sk": s("x")},
                    "UpdateExpression": "SET started = :t", "ExpressionAttributeValues": {":t": n(4)}}},
    ])
    call(record, "invalid item in transaction", ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "main", "Item": {"pk": s("p7"), "sk": s("x"), "app": s("a"), "started": n(2)}}},
        {"Put": {"TableName": "main", "Item": {"pk": s("p7"), "sk": s("y"), "started": s("not a number")}}},
    ])
    queries(aws, record, "after failed transactions")
    call(record, "transaction", ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": "main", "Key": {"pk": s("p1"), "sk": s("s07")}}},
        {"Put": {"TableName": "main", "Item": {"pk": s("p5"), "sk": s("t"), "app": s("a"), "started": n(2),
                                               "owner": s("o2")}}},
        {"Update": {"TableName": "main", "Key": {"pk": s("p2"), "sk": s("s08")},
                    "UpdateExpression": "SET app = :z", "ExpressionAttributeValues": {":z": s("a")}}},
    ])
    queries(aws, record, "after transaction")

    # BatchWriteItem, PartiQL and a GSI added later: paths the partition index must see.
    call(record, "batch write", ddb.batch_write_item, RequestItems={"main": [
        {"PutRequest": {"Item": {"pk": s("p3"), "sk": s("b1"), "app": s("a"), "started": n(30), "owner": s("o1"), "name": s("n1b")}}},
        {"PutRequest": {"Item": {"pk": s("p3"), "sk": s("b2"), "app": s("b"), "started": n(31)}}},
        {"DeleteRequest": {"Key": {"pk": s("p1"), "sk": s("s10")}}},
    ]})
    call(record, "partiql update", ddb.execute_statement,
         Statement="UPDATE main SET app = 'b' WHERE pk = 'p0' AND sk = 's09'")
    call(record, "partiql insert", ddb.execute_statement,
         Statement="INSERT INTO main VALUE {'pk': 'p4', 'sk': 'q', 'app': 'a', 'started': 7}")
    call(record, "partiql delete", ddb.execute_statement,
         Statement="DELETE FROM main WHERE pk = 'p2' AND sk = 's11'")
    queries(aws, record, "after batch and partiql")
    call(record, "add gsi", ddb.update_table, TableName="main",
         AttributeDefinitions=[{"AttributeName": "local", "AttributeType": "S"}],
         GlobalSecondaryIndexUpdates=[{"Create": {
             "IndexName": "by-local", "KeySchema": [{"AttributeName": "local", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}}}])
    call(record, "query added gsi", ddb.query, TableName="main", IndexName="by-local",
         KeyConditionExpression="#l = :l", ExpressionAttributeNames={"#l": "local"},
         ExpressionAttributeValues={":l": s("l05")})

    # The stream: failed transactions left no records; sequence numbers continue.
    stream_arn = ddb.describe_table(TableName="main")["Table"]["LatestStreamArn"]
    shard = aws.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = aws.streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = aws.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    record.append(["stream", [[r["eventName"], r["dynamodb"].get("Keys"), r["dynamodb"].get("SequenceNumber"),
                               r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage")] for r in records]])


# ---------------------------------------------------------------- SQS


def receive(aws, url, **kwargs):
    kwargs.setdefault("MaxNumberOfMessages", 10)
    answer = aws.sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"], **kwargs)
    return answer.get("Messages", [])


def bodies(messages):
    return sorted([m["Body"], m["Attributes"].get("MessageGroupId"),
                   m["Attributes"].get("ApproximateReceiveCount")] for m in messages)


def sqs_checks(aws, record):
    sqs = aws.sqs
    dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="work.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    record.append(["queue", url])
    for body, group in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a1", "a")]:
        call(record, f"send {body}", sqs.send_message, QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = receive(aws, url, MaxNumberOfMessages=1, VisibilityTimeout=1)
    record.append(["first", bodies(first)])
    # Group a is in flight: only b1 may come (kept in flight for the rest of the check).
    record.append(["while a in flight", bodies(receive(aws, url, VisibilityTimeout=30))])
    # Nothing is deliverable until a1's visibility ends, a second into this long poll.
    started = time.monotonic()
    blocked = receive(aws, url, WaitTimeSeconds=3, VisibilityTimeout=30)
    record.append(["redelivered within the wait", bodies(blocked), time.monotonic() - started < 2.9])
    for message in blocked:
        if message["Body"] == "a1":
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            call(record, "delete again", sqs.delete_message, QueueUrl=url,
                 ReceiptHandle=message["ReceiptHandle"])
        else:
            call(record, f"release {message['Body']}", sqs.change_message_visibility, QueueUrl=url,
                 ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    # A message received maxReceiveCount times moves to the dead-letter queue.
    record.append(["received again", bodies(receive(aws, url, VisibilityTimeout=0))])
    record.append(["after max receives", bodies(receive(aws, url, WaitTimeSeconds=1))])
    record.append(["dead letters", bodies(receive(aws, dlq, WaitTimeSeconds=1))])
    # Long-poll wake-up on a standard queue.
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    timer = threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=plain, MessageBody="late"))
    timer.start()
    started = time.monotonic()
    woke = receive(aws, plain, WaitTimeSeconds=5)
    timer.join()
    record.append(["long poll woke", bodies(woke), time.monotonic() - started < 4])
    call(record, "attributes", sqs.get_queue_attributes, QueueUrl=url,
         AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                         "ApproximateNumberOfMessagesDelayed", "MessageRetentionPeriod",
                         "ContentBasedDeduplication"])
    # Counted while a message is in flight and another delayed.
    delayed = sqs.create_queue(QueueName="delayed", Attributes={"DelaySeconds": "30"})["QueueUrl"]
    for body in ["in flight", "waiting", "delayed"]:
        sqs.send_message(QueueUrl=delayed, MessageBody=body,
                         DelaySeconds=30 if body == "delayed" else 0)
    receive(aws, delayed, MaxNumberOfMessages=1, VisibilityTimeout=30)
    call(record, "counts", sqs.get_queue_attributes, QueueUrl=delayed,
         AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                         "ApproximateNumberOfMessagesDelayed"])


# ---------------------------------------------------------------- Step Functions


def stage_machine_checks(aws, record, stage_asl):
    sqs, sfn = aws.sqs, aws.sfn
    report = sqs.create_queue(QueueName="orchestration.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    worker = sqs.create_queue(QueueName="worker")["QueueUrl"]
    definition = stage_asl
    for name in ["BakeQueueUrl", "JenkinsQueueUrl", "ManualJudgmentQueueUrl", "PreconditionsQueueUrl",
                 "ScriptQueueUrl", "ServerGroupQueueUrl", "WebhookQueueUrl"]:
        definition = definition.replace("${" + name + "}", worker)
    definition = definition.replace("${OrchestrationQueueUrl}", report)
    role = "arn:aws:iam::123456789012:role/stage"
    machine = sfn.create_state_machine(name="stage", definition=definition, roleArn=role)["stateMachineArn"]
    runs = []
    for i in range(12):
        stage = {"executionId": f"e{i}", "stageId": f"s{i}", "attempt": 1, "context": {"i": i}}
        stage["type"] = "wait" if i % 2 else "webhook"
        if i % 2:
            stage["waitSeconds"] = 0
        name = f"e{i}-s{i}-1"
        sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(stage))
        runs.append(name)
    # The worker: answers RUNNING with a zero backoff on the first poll, then SUCCEEDED.
    polls: dict = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(polls.values()) < 12:
        for message in receive(aws, worker, WaitTimeSeconds=1):
            task = json.loads(message["Body"])
            stage_id = task["stage"]["stageId"]
            polls[stage_id] = polls.get(stage_id, 0) + 1
            answer = {"status": "RUNNING", "backoffSeconds": 0} if polls[stage_id] == 1 else {"status": "SUCCEEDED"}
            sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps(answer))
            sqs.delete_message(QueueUrl=worker, ReceiptHandle=message["ReceiptHandle"])
    record.append(["worker polls", sorted(polls.items())])
    finished = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(finished) < 12:
        for message in receive(aws, report, WaitTimeSeconds=1):
            finished.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=report, ReceiptHandle=message["ReceiptHandle"])
    record.append(["reports", sorted(finished, key=lambda m: m["stageId"])])
    for name in runs:
        arn = machine.replace(":stateMachine:", ":execution:") + ":" + name
        wait_until_stopped(sfn, arn)
        described = sfn.describe_execution(executionArn=arn)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        record.append([name, described, [(e["type"], e.get("stateEnteredEventDetails", {}).get("name"))
                                         for e in history]])


def retry_checks(aws, record):
    """Concurrent runs of one definition keep their own Retry counts."""
    sfn = aws.sfn
    definition = json.dumps({"StartAt": "Send", "States": {"Send": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": aws.endpoint + "/123456789012/missing", "MessageBody.$": "$"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}],
        "End": True}}})
    machine = sfn.create_state_machine(name="retrying", definition=definition,
                                       roleArn="arn:aws:iam::123456789012:role/r")["stateMachineArn"]
    arns = [sfn.start_execution(stateMachineArn=machine, name=f"r{i}", input=json.dumps({"i": i}))["executionArn"]
            for i in range(6)]
    for arn in arns:
        wait_until_stopped(sfn, arn)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        record.append([arn, sfn.describe_execution(executionArn=arn)["status"],
                       [e["type"] for e in history]])


def wait_until_stopped(sfn, arn):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return
        time.sleep(0.05)


# ---------------------------------------------------------------- comparison


def observe(endpoint, stage_asl):
    aws = Emulator(endpoint)
    record: list = []
    checks = [("dynamodb", lambda r: dynamodb_checks(aws, r)), ("sqs", lambda r: sqs_checks(aws, r)),
              ("stage machine", lambda r: stage_machine_checks(aws, r, stage_asl)),
              ("retry", lambda r: retry_checks(aws, r))]
    with concurrent.futures.ThreadPoolExecutor(len(checks)) as pool:
        parts = {name: pool.submit(run, check) for name, check in checks}
        for name, part in parts.items():
            record.append([name, part.result()])
    return json.dumps(clean(record, endpoint), indent=1, sort_keys=True, default=str).splitlines()


def run(check):
    record: list = []
    check(record)
    return record


RACERS = 16
RACE_ROUNDS = 5


def racing_conditional_writes_win_once(endpoint):
    """DynamoDB makes a write's condition and change one step: of many writers that all expect
    version N at the same instant, exactly one wins. Checked on fixed moto only (stock moto
    checks the condition apart from the write, so its answer depends on thread timing).
    Returns the winners per round."""
    aws = Emulator(endpoint)
    aws.ddb.put_item(TableName="plain", Item={"id": s("race"), "version": n(0)})
    barrier = threading.Barrier(RACERS)

    def race(version, racer):
        barrier.wait()
        try:
            aws.ddb.update_item(
                TableName="plain", Key={"id": s("race")},
                UpdateExpression="SET version = :next, winner = :racer",
                ConditionExpression="version = :expected",
                ExpressionAttributeValues={":next": n(version + 1), ":expected": n(version),
                                           ":racer": n(racer)})
            return 1
        except aws.ddb.exceptions.ConditionalCheckFailedException:
            return 0

    winners = []
    with concurrent.futures.ThreadPoolExecutor(RACERS) as pool:
        for version in range(RACE_ROUNDS):
            winners.append(sum(pool.map(lambda racer: race(version, racer), range(RACERS))))
    return winners


def main():
    stock_endpoint, fixed_endpoint, asl_path = sys.argv[1:4]
    with open(asl_path) as asl:
        stage_asl = asl.read()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        stock = pool.submit(observe, stock_endpoint, stage_asl)
        fixed = pool.submit(observe, fixed_endpoint, stage_asl)
        stock, fixed = stock.result(), fixed.result()
    winners = racing_conditional_writes_win_once(fixed_endpoint)
    if winners != [1] * RACE_ROUNDS:
        print(f"fixed moto: {RACERS} racing conditional writes per round had {winners} winners, not 1")
        return 1
    print(f"fixed moto: {RACE_ROUNDS} rounds of {RACERS} racing conditional writes, one winner each")
    if stock == fixed:
        print(f"stock and fixed moto observed the same ({len(stock)} lines)")
        return 0
    diff = list(difflib.unified_diff(stock, fixed, "stock moto", "fixed moto", lineterm="", n=4))
    print("\n".join(diff[:400]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
