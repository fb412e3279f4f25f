"""Celery app for the payments crash test: the project's app, and a Vantagepoint client whose
cash receipt post, armed by a file, kills its own process (SIGKILL) right after Vantagepoint
has posted the batch and before anything of ours is committed."""
import os
import signal

import django

from connector.celery import app  # noqa: F401

django.setup()

from connector.vantagepoint.client import VantagepointClient  # noqa: E402

KILL_SWITCH_ENV = "PAYMENTS_KILL_SWITCH"
_post = VantagepointClient.post_cash_receipt_batch


def _post_then_die(self, batch):
    result = _post(self, batch)
    switch = os.environ.get(KILL_SWITCH_ENV, "")
    if switch and os.path.exists(switch):
        os.unlink(switch)
        os.kill(os.getpid(), signal.SIGKILL)  # after the post, before our commit
    return result


VantagepointClient.post_cash_receipt_batch = _post_then_die
