"""Fixes to moto's speed and memory, applied by moto_server.py before the server starts.

Each module replaces a few moto 5.2.5 functions (names in its docstring). They change how
long moto takes and how much it keeps, never what it answers (two make moto answer as AWS
does where moto raced with itself: `dynamodb`'s atomic conditional writes and
`stop`'s StopExecution; each has its own check): the differential test
(tests/tests/emulator_fixes.rs) runs the same calls against stock and fixed moto and
requires identical observations. Set GENNAKER_MOTO_FIXES=0 to run stock moto.

Every fix reaches into moto internals, so they are written for one moto release and refuse
to load on another.
"""
import os
import sys

import moto

MOTO_VERSION = "5.2.5"


def enabled() -> bool:
    return os.environ.get("GENNAKER_MOTO_FIXES", "1") != "0"


def apply() -> None:
    if moto.__version__ != MOTO_VERSION:
        sys.exit(
            f"gennaker: the emulator fixes are written for moto {MOTO_VERSION}, but moto "
            f"{moto.__version__} is installed. Reinstall the pinned release (delete "
            f"$GENNAKER_HOME/venv and start again) or run stock moto with GENNAKER_MOTO_FIXES=0."
        )
    from . import core, dynamodb, events, retention, sqs, stepfunctions, stop

    core.apply()
    dynamodb.apply()
    events.apply()
    stop.apply()
    sqs.apply()
    stepfunctions.apply()
    retention.apply()
