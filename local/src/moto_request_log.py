"""An optional log of the requests the emulator serves, to count AWS calls (benchmarks).

With GENNAKER_EMULATOR_REQUEST_LOG=PATH, moto_server.py appends one line per request to
PATH: `<unix time> <caller> <operation>`, where the caller is `gennaker` (the AWS SDK for
Rust: local mode's functions and tests) or `emulator` (moto calling itself, e.g. a Step
Functions `sqs:sendMessage` task), and the operation is the X-Amz-Target (`AmazonSQS.
ReceiveMessage`) or the query-protocol Action. Works on stock and fixed moto alike.
"""
import os
import threading
import time
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication


def apply() -> None:
    path = os.environ.get("GENNAKER_EMULATOR_REQUEST_LOG")
    if not path:
        return
    log = open(path, "a", buffering=1)
    lock = threading.Lock()
    stock = DomainDispatcherApplication.__call__

    def __call__(self, environ, start_response):
        operation = environ.get("HTTP_X_AMZ_TARGET") or _query_action(environ)
        caller = "gennaker" if "aws-sdk-rust" in environ.get("HTTP_USER_AGENT", "") else "emulator"
        with lock:
            log.write(f"{time.time():.3f} {caller} {operation}\n")
        return stock(self, environ, start_response)

    DomainDispatcherApplication.__call__ = __call__


def _query_action(environ) -> str:
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')[:40]}"
