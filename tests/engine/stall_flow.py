"""A flow whose cycle stalls until a file appears, so the process running it can be killed
mid-cycle. Importing it registers nothing: a test puts STALL_FLOW in the registry for itself,
a child process calls stall_flow_register().

`python -m tests.engine.stall_flow --tenant SLUG` is `manage.py sync stall --tenant SLUG` in a
process of its own (manage.py does not load test flows).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from connector.flows import Flow, register

STALL = "stall"
# The file whose appearance ends the stall; unset, the cycle does not stall.
RELEASE_FILE_ENV = "STALL_RELEASE_FILE"
STALLED = "stalled in process "


def _poll(*, run, trigger, user=None):
    release = os.environ.get(RELEASE_FILE_ENV)
    if release:
        run.progress = f"{STALLED}{os.getpid()}"
        run.save(update_fields=["progress"])
        deadline = time.monotonic() + 120  # a process the test forgot still ends
        while not Path(release).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return {"seen": 1}


STALL_FLOW = Flow(name=STALL, label="Stalls until released (tests)", steps=(), poll=_poll)


def stall_flow_register() -> None:
    register(STALL_FLOW)


def stalled_pid(progress: str) -> int:
    return int(progress.removeprefix(STALLED))


if __name__ == "__main__":
    import sys

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")
    django.setup()
    stall_flow_register()
    from django.core.management import call_command

    call_command("sync", STALL, *sys.argv[1:])
