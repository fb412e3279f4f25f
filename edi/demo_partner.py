"""The demo's customer trading partner: it answers the 810s we upload with 997s, one a rejection.

`make demo` runs it in a thread once the simulators are up (`manage.py demo_partner --cleo-port N`
runs it alone). Every few seconds it
reads the served Cleo simulator's Outbound folder as the partner's translator would, and for
each 810 not answered yet builds a 997 with edi.x12 (real AK codes for what it finds) and drops
it into the folder our inbox polls, where the 997 is read and its 810 marked acknowledged, or
rejected. One 810 is rejected on purpose, the second one it sees (by upload order): its N4
state code is made one of four letters before the 997 is built, so the partner's answer names
a real problem (AK4 N402 code 5, element too long), as if its translator had read it so.
It keeps what it answered in memory; restarted, it answers again, which our side counts as
the same answer ("unchanged").
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

from .x12 import ControlNumbers, build_997

OUTBOUND = "Outbound"
ANSWERS_TO = "Inbound"  # the folder our inbox polls; a 997 finds its partner by its ISA sender
REJECTED_POSITION = 1  # the second 810 uploaded is rejected
FIRST_CONTROL = 9001
_N4_STATE = re.compile(r"(N4\*[^*~]*\*)([A-Z]{2})(?=[*~])")


def _damaged(text: str) -> str:
    """The 810 as a partner whose translator chokes on it would read it."""
    return _N4_STATE.sub(lambda m: m.group(1) + m.group(2) + "XX", text, count=1)


def partner_answer_once(http: httpx.Client, answered: dict[str, str]) -> list[tuple[str, str]]:
    """One look at the Outbound folder: a 997 for every 810 not in `answered` (name → "accepted"
    or "rejected", updated). Returns what it answered this time."""
    state = http.get("/_sandbox/state").json()
    files = [f for t in state["tenants"] for folder in t["folders"] if folder["name"] == OUTBOUND
             for f in folder["files"] if "_810-" in f["name"]]
    files.sort(key=lambda f: (f["created"], f["id"]))
    done: list[tuple[str, str]] = []
    for position, file in enumerate(files):
        if file["name"] in answered:
            continue
        text = http.get(f"/_sandbox/folders/{OUTBOUND}/files/{file['id']}").content.decode("ascii", "replace")
        reject = position == REJECTED_POSITION
        control = FIRST_CONTROL + position
        reply = build_997(_damaged(text) if reject else text, controls=ControlNumbers(control, control, 1))
        name = f"997-{file['name']}"
        http.post(f"/_sandbox/folders/{ANSWERS_TO}/files", params={"filename": name},
                  content=reply.encode()).raise_for_status()
        answered[file["name"]] = "rejected" if reject else "accepted"
        done.append((file["name"], answered[file["name"]]))
    return done


def _log(line: str) -> None:
    print(line, flush=True)


def partner_run(base_url: str, *, every: float = 3.0, log: Callable[[str], None] = _log,
                transport: httpx.BaseTransport | None = None) -> None:
    """Answer for ever (until the demo stops the process)."""
    answered: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=10, transport=transport) as http:
        while True:
            try:
                for name, outcome in partner_answer_once(http, answered):
                    log(f"partner: 997 for {name}: {outcome}")
            except httpx.HTTPError as exc:
                log(f"partner: Cleo simulator not reachable ({exc}); trying again")
            time.sleep(every)
