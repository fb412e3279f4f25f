"""Shared fixtures. Environment for the run is set in tests/pytest_env.py."""
import pytest


@pytest.fixture
def echo_flow():
    """The echo flow with its failure knobs reset."""
    from tests import echo_flow as module

    module.send_failures.clear()
    module.sent.clear()
    yield module
    module.send_failures.clear()
    module.sent.clear()


@pytest.fixture(autouse=True)
def tasks_run_in_the_test(request):
    """No test leaves a message on the broker: a task queued by the code under test (a replay,
    a cycle's fan-out) runs in the test's process, except in tests that start a real worker
    (marked `worker`), where the worker takes it."""
    from connector.celery import app

    if request.node.get_closest_marker("worker"):
        yield
        return
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def connection_statuses_forgotten():
    """Each test's database starts empty: what this process wrote of the last calls' outcomes
    (connector.call_status throttles on it) is forgotten too."""
    from connector.call_status import call_status_forget

    call_status_forget()
    yield
    call_status_forget()
