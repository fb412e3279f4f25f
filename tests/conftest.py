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
