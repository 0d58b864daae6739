"""Per-request overhead shared by every service.

- `DomainDispatcherApplication.get_backend_for_host` (moto/moto_server/werkzeug_app.py) lists
  moto's package directory (`backends.list_of_moto_modules`: one listdir, ~175 isdir calls)
  and tries ~180 URL regexes for every request, twice, under the dispatcher's global lock.
  The answer depends on the host alone, so it is remembered per host.
- `BaseModel.__new__` (moto/core/common_models.py) appends every model object moto ever
  creates to a class-level list, for the `/moto-api/data.json` dashboard and S3's reset.
  Nothing is ever removed, so every DynamoDB item copy, SQS message and stream iterator
  stays alive. Only S3 (which reads the lists) and SES (whose sent mail tests read through
  data.json) keep being tracked.
- werkzeug's one log line per request is not written (stderr is not read).
"""
import logging
import threading

from moto.core.common_models import BaseModel
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

TRACKED_SERVICES = frozenset({"s3", "ses", "sesv2"})


def apply() -> None:
    _memoise_routing()
    _track_only_where_read()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _memoise_routing() -> None:
    stock = DomainDispatcherApplication.get_backend_for_host
    answers: dict = {}
    lock = threading.Lock()

    def get_backend_for_host(self, host):
        try:
            return answers[host]
        except KeyError:
            pass
        backend = stock(self, host)
        with lock:
            answers[host] = backend
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host


def _track_only_where_read() -> None:
    def __new__(cls, *args, **kwargs):
        instance = super(BaseModel, cls).__new__(cls)
        if cls.__module__.split(".")[1] in TRACKED_SERVICES:
            cls.instances_tracked.append(instance)
        return instance

    BaseModel.__new__ = __new__
