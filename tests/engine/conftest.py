"""Engine fixtures."""
import pytest


@pytest.fixture
def stall_flow(monkeypatch):
    """The stall flow, registered for this test only."""
    from connector import flows
    from tests.engine import stall_flow as module

    monkeypatch.setitem(flows._registry, module.STALL, module.STALL_FLOW)
    return module
