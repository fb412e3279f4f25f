"""Structured logs: JSON lines with the ids bound around a block of work, never a secret or
a payload, and the standard library's lines through the same processors."""
import io
import json
import logging

import pytest
import structlog

from connector.logs import MASK, MAX_VALUE_CHARS, bound, formatter_options, get_logger, redact
from tests.factories import ALL_SECRETS, CLEO_PASSWORD, STRIPE_KEY, VP_PASSWORD, WEBHOOK_SECRET


@pytest.fixture
def json_lines():
    """The root logger writing through the settings' formatter into a buffer."""
    options = dict(formatter_options(json=True))
    factory = options.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**options))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    structlog.contextvars.clear_contextvars()

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_line_in_a_bound_block_carries_the_ids_and_they_leave_with_the_block(json_lines):
    log = get_logger("tests.logs")
    with bound(tenant_id=3, flow="ar-810", run_id=41):
        log.info("cycle started", seen=2)
        with bound(document_id=77):
            logging.getLogger("some.library").warning("stdlib line %s", "inside")
    log.info("after")
    first, second, third = json_lines()
    assert first["event"] == "cycle started" and first["seen"] == 2
    assert (first["tenant_id"], first["flow"], first["run_id"]) == (3, "ar-810", 41)
    assert first["level"] == "info" and first["logger"] == "tests.logs" and first["timestamp"].endswith("Z")
    assert second["event"] == "stdlib line inside" and second["document_id"] == 77 and second["tenant_id"] == 3
    assert second["logger"] == "some.library"
    assert "tenant_id" not in third and "document_id" not in third


def test_none_ids_are_left_out(json_lines):
    with bound(tenant_id=1, document_id=None):
        get_logger("t").info("x")
    assert "document_id" not in json_lines()[0]


def test_secrets_never_reach_a_line(json_lines):
    log = get_logger("tests.logs")
    log.info("login", password=VP_PASSWORD, client_secret="x" * 20, authorization=f"Bearer {'a' * 30}",
             webhook_secrets=WEBHOOK_SECRET, nested={"api_key": CLEO_PASSWORD, "ok": 1})
    log.info(f"connecting with key {STRIPE_KEY} and signing secret {WEBHOOK_SECRET}")
    log.info("calling https://api:tok-ACCESS-6@vp.example.com/x?access_token=tok-REFRESH-7&page=2")
    logging.getLogger("lib").info("password=%s token: %s", VP_PASSWORD, "tok-ACCESS-6",
                                  extra={"cleo_password": CLEO_PASSWORD})
    text = "\n".join(json.dumps(line) for line in json_lines())
    for secret in ALL_SECRETS:
        assert secret not in text, secret
    first = json_lines()[0]
    assert first["password"] == MASK and first["nested"] == {"api_key": MASK, "ok": 1}
    assert "page=2" in json_lines()[2]["event"], "what is not a secret is kept"


def test_payloads_and_large_values_are_refused(json_lines):
    log = get_logger("tests.logs")
    edi = "ISA*00*" + "X" * 5000
    log.info("received", raw=edi, body=b"\x00" * 10, note="y" * (MAX_VALUE_CHARS + 1), mapped={"a": 1},
             small="fine", items=list(range(100)))
    log.info(edi)
    first, second = json_lines()
    assert first["raw"] == first["body"] == first["mapped"] == "<not logged>"
    assert first["note"] == f"<{MAX_VALUE_CHARS + 1} characters not logged>"
    assert first["items"] == "<list of 100 items not logged>" and first["small"] == "fine"
    assert len(second["event"]) < 2100 and second["event"].endswith("more characters not logged)")


def test_an_exception_is_logged_with_its_traceback_and_without_its_secret(json_lines):
    try:
        raise RuntimeError(f"token={'s' * 12} refused")
    except RuntimeError:
        logging.getLogger("lib").exception("failed")
    line = json_lines()[0]
    assert "RuntimeError" in line["exception"] and "s" * 12 not in line["exception"]


def test_redact_is_a_plain_processor():
    out = redact(None, "info", {"event": "e", "_record": object(), "secret": "v", "count": 3})
    assert out["secret"] == MASK and out["count"] == 3 and "_record" in out


def test_settings_render_json_lines_with_debug_off():
    from django.conf import settings

    formatter = settings.LOGGING["formatters"]["structured"]
    assert formatter["()"] is structlog.stdlib.ProcessorFormatter
    assert isinstance(formatter["processors"][-1], structlog.processors.JSONRenderer)
    assert redact in formatter["processors"]
    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False


def test_a_task_names_itself_on_its_lines_and_leaves_its_callers_ids_alone(json_lines):
    from celery import shared_task

    from connector.celery import app as celery_app

    @shared_task(name="tests.logs.say")
    def say() -> None:
        get_logger("tests.task").info("inside the task")

    celery_app.conf.task_always_eager = True
    try:
        with bound(tenant_id=5):
            say.delay()
            get_logger("tests.task").info("after the task")
    finally:
        celery_app.conf.task_always_eager = False
    inside = next(line for line in json_lines() if line["event"] == "inside the task")
    after = next(line for line in json_lines() if line["event"] == "after the task")
    assert inside["task"] == "tests.logs.say" and inside["task_id"] and inside["tenant_id"] == 5
    assert "task_id" not in after and after["tenant_id"] == 5
