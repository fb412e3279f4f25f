"""`manage.py demo` (what `make demo` runs) on the embedded defaults: no database server, no
broker, no Redis. Within a minute the admin answers, and the worker (fed by the first cycle
on the filesystem broker) has put 810 files into the simulated Cleo folder; then the simulated
partner's 997s mark them acknowledged, one rejected."""
from pathlib import Path

import httpx
import pytest

from tests.demo_process import demo_running, poll


@pytest.mark.worker
def test_demo_brings_up_admin_worker_beat_and_sends_810s(tmp_path: Path):
    with demo_running(tmp_path, ready_timeout=180) as demo:
        def outbound_810s():
            state = httpx.get(demo.url(demo.cleo, "/_sandbox/state")).json()
            files = [f["name"] for t in state["tenants"] for folder in t["folders"] if folder["name"] == "Outbound"
                     for f in folder["files"]]
            return [name for name in files if "_810-" in name]

        sent = poll(outbound_810s, timeout=90, what="810 files in the simulated Cleo folder")
        assert all(name.startswith("HARBORGROUP_810-") and name.endswith(".edi") for name in sent)

        def answered_810s():
            """The simulated partner's 997s, applied by the inbox: acknowledged and rejected 810s."""
            states = demo.documents_by_state("ar-810")
            return states is not None and {"acknowledged", "rejected"} <= set(states)

        assert poll(answered_810s, timeout=150, what="an acknowledged and a rejected 810 (the partner's 997s)")
    output = demo.output()
    assert f"ml-connector is up: http://127.0.0.1:{demo.web}/admin/" in output
    assert "demo@" in output and "ready" in output, "the Celery worker started"
    assert "beat: Starting" in output, "beat started"
    assert (demo.var / "db.sqlite3").exists() and (demo.var / "broker").is_dir()
