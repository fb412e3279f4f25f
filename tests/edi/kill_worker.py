"""Celery app for the kill rounds (tests/edi/test_kill_rounds.py): the project's app, with hooks
that SIGKILL the process running a task at a point a test arms.

A point is a place in the engine where dying is most telling:

- received: a cycle committed its documents (and its cursor) and has not queued them;
- task_sent: one task was handed to the broker (the others of its batch not yet);
- effect_started: an effect is marked "may have happened", its outside call not yet made;
- effect_made: the outside system did it (a file uploaded, moved, a voucher posted) and the
  answer never reached our database (the lost answer);
- effect_confirmed: the effect's row is confirmed, the step's own write not yet made;
- step_written: a step's write committed, the next step not started.

The test writes `plan.json` ({"point": ..., "skip": n}) into KILL_PLAN_DIR; the n+1-th time
any worker process passes that point, it renames the plan to `fired.json` (what it was
doing) and kills itself with SIGKILL: no exception, no finally block, no rollback but the
database's own. With the prefork pool the parent worker sees its child die, puts the task
back on the queue (acks_late, reject_on_worker_lost) and forks a fresh child: the worker is
restarted the way a supervisor restarts a dead process, in a fraction of a second.

The tasks this worker queues go to its own queue (KILL_QUEUE), never to a shared one.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
from pathlib import Path

from celery.signals import after_task_publish, worker_process_init

from connector.celery import app

PLAN = "plan.json"
FIRED = "fired.json"
POINTS = ("received", "task_sent", "effect_started", "effect_made", "effect_confirmed", "step_written")

app.conf.task_default_queue = os.environ.get("KILL_QUEUE", "celery")
# Billiard waits this long for a result before declaring a killed pool process lost (10 s by
# default): the rounds kill dozens of children.
app.conf.worker_lost_wait = 0.2


def plan_dir() -> Path | None:
    folder = os.environ.get("KILL_PLAN_DIR")
    return Path(folder) if folder else None


def passing(point: str, **what: object) -> None:
    """Die here if the armed plan says so (one process at a time decides, under a file lock)."""
    folder = plan_dir()
    if folder is None or not (folder / PLAN).exists():
        return
    with (folder / "plan.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            plan = json.loads((folder / PLAN).read_text())
        except FileNotFoundError:
            return
        if plan["point"] != point:
            return
        if plan["skip"] > 0:
            (folder / PLAN).write_text(json.dumps({**plan, "skip": plan["skip"] - 1}))
            return
        (folder / FIRED).write_text(json.dumps({**plan, "pid": os.getpid(),
                                                **{k: str(v) for k, v in what.items()}}))
        (folder / PLAN).unlink()
        os.kill(os.getpid(), signal.SIGKILL)


@worker_process_init.connect
def _install(**kwargs) -> None:
    """In each pool process as it starts (Django is set up by then)."""
    from connector import effects, pipeline, work

    dispatch = work.documents_dispatch

    def documents_dispatch(**kwargs):
        passing("received", run=kwargs["run"].pk)
        return dispatch(**kwargs)

    work.documents_dispatch = documents_dispatch

    do_effect = effects._do

    def _do(effect, do):
        def made(key):
            result = do(key)
            passing("effect_made", effect=effect.name, document=effect.document_id)
            return result

        passing("effect_started", effect=effect.name, document=effect.document_id)
        result = do_effect(effect, made)
        passing("effect_confirmed", effect=effect.name, document=effect.document_id)
        return result

    effects._do = _do

    write = pipeline._write

    def _write(document, flow, to_state, **kwargs):
        write(document, flow, to_state, **kwargs)
        passing("step_written", document=document.pk, action=kwargs.get("action", ""))

    pipeline._write = _write


@after_task_publish.connect
def _task_sent(sender=None, headers=None, **kwargs) -> None:
    passing("task_sent", task=sender, id=(headers or {}).get("id", ""))


