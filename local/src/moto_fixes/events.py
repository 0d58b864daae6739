"""EventBridge: an input path is parsed once.

`EventTemplateParser.parse` (moto/events/utils.py), which builds the input of every rule
target for every event put, parses each input path with `jsonpath_ng.ext.parse`, and that
builds a new parser (its grammar tables included) for every call: a tenth of the emulator's
time when many executions publish lifecycle events at once. Parsed paths are immutable, so
one parse per path is reused.
"""
import functools

import jsonpath_ng.ext

_PATHS_KEPT = 1024


def apply() -> None:
    # moto imports `parse` from the module on each call, so replacing it there is enough.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=_PATHS_KEPT)(jsonpath_ng.ext.parse)
