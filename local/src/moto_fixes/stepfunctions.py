"""Step Functions: parse each definition and path once.

- `ExecutionWorker._get_evaluation_entrypoint` (moto/stepfunctions/parser/backend/
  execution_worker.py) parses the state machine's ASL with ANTLR for every execution
  (~34 ms for statemachines/stage.asl.json, holding the GIL). The parsed program keeps its
  per-run state in the execution's Environment, so one parse per definition is reused;
  definitions with Map or Parallel states (whose components keep worker state) are parsed
  each time, as before.
- jsonpath_ng's `parse` (used by moto/stepfunctions/parser/asl/utils/json_path.py and
  .../common/path/result_path.py) rebuilds its parser for every path evaluated; parsed
  paths are immutable and are reused.
- `boto_client_for` (moto/stepfunctions/parser/asl/utils/boto_client.py), which service
  integrations such as `sqs:sendMessage` call, builds a new boto3 client per call; one
  client per region and service is reused (botocore clients are thread-safe).
"""
import functools
import importlib
import json
import threading

from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

_PROGRAMS_KEPT = 64
_PATHS_KEPT = 4096

# Modules that imported `parse` or `boto_client_for` by name.
_PATH_USERS = (
    "moto.stepfunctions.parser.asl.utils.json_path",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
)
_CLIENT_USERS = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    + name
    for name in (
        "state_task_service_sqs",
        "state_task_service_events",
        "state_task_service_dynamodb",
        "state_task_service_sfn",
        "state_task_service_sns",
        "state_task_service_aws_sdk",
        "state_task_service_unsupported",
        "state_task_service_glue",
        "state_task_service_ecs",
        "state_task_service_batch",
    )
)


def apply() -> None:
    ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint
    for name in _PATH_USERS:
        module = importlib.import_module(name)
        module.parse = functools.lru_cache(maxsize=_PATHS_KEPT)(module.parse)
    cached = _cached_clients(boto_client.boto_client_for)
    boto_client.boto_client_for = cached
    for name in _CLIENT_USERS:
        module = importlib.import_module(name)
        if hasattr(module, "boto_client_for"):
            module.boto_client_for = cached


def _get_evaluation_entrypoint(self):
    definition = self._evaluation_details.state_machine_details.definition
    if _has_stateful_states(definition):
        return AmazonStateLanguageParser.parse(definition)[0]
    return _parsed_program(definition)


@functools.lru_cache(maxsize=_PROGRAMS_KEPT)
def _parsed_program(definition: str):
    program = AmazonStateLanguageParser.parse(definition)[0]
    _assign_heap_keys(program, set())
    return program


def _assign_heap_keys(component, seen) -> None:
    """Gives every component its lazily made id now, before runs share it from threads."""
    if id(component) in seen:
        return
    seen.add(id(component))
    if isinstance(component, EvalComponent):
        _ = component.heap_key
    values = component.values() if isinstance(component, dict) else (
        component if isinstance(component, (list, tuple)) else getattr(component, "__dict__", {}).values()
    )
    for value in values:
        if isinstance(value, (EvalComponent, list, tuple, dict)):
            _assign_heap_keys(value, seen)


@functools.lru_cache(maxsize=_PROGRAMS_KEPT)
def _has_stateful_states(definition: str) -> bool:
    try:
        document = json.loads(definition)
    except ValueError:
        return True
    return _any_state_of_type(document, {"Map", "Parallel"})


def _any_state_of_type(node, types) -> bool:
    if isinstance(node, dict):
        if node.get("Type") in types:
            return True
        return any(_any_state_of_type(value, types) for value in node.values())
    if isinstance(node, list):
        return any(_any_state_of_type(value, types) for value in node)
    return False


def _cached_clients(stock):
    clients: dict = {}
    lock = threading.Lock()

    def boto_client_for(region, service, state_credentials=None):
        key = (region, service)
        with lock:
            client = clients.get(key)
            if client is None:
                client = stock(region, service, state_credentials)
                clients[key] = client
        return client

    return boto_client_for
