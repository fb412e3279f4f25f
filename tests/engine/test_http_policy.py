"""The shared HTTP policy against a real WSGI app through httpx.WSGITransport."""
import httpx
import pytest

from connector.failures import TransientFailure
from connector.http import DeliveryUnknown, HttpPolicy, PolicyClient, parse_retry_after, recording_calls


class ScriptedApp:
    """Answers each request with the next scripted (status, headers) or raises."""

    def __init__(self, script):
        self.script = list(script)
        self.seen = []

    def __call__(self, environ, start_response):
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        step = self.script.pop(0) if self.script else (200, {})
        if isinstance(step, Exception):
            raise step
        status, headers = step
        start_response(f"{status} X", list(headers.items()))
        return [b"{}"]


def client_for(app, sleeps):
    return PolicyClient("http://remote.test", system="remote", transport=httpx.WSGITransport(app=app),
                        sleep=sleeps.append, policy=HttpPolicy(max_attempts=4))


def test_retries_a_503_honouring_retry_after_and_records_each_call():
    app = ScriptedApp([(503, {"Retry-After": "7"}), (429, {}), (200, {})])
    sleeps = []
    with recording_calls() as calls:
        response = client_for(app, sleeps).request("GET", "/things?secret=1")
    assert response.status_code == 200
    assert sleeps[0] == 7.0 and 0 <= sleeps[1] <= 1.0
    assert [(c.method, c.path, c.status) for c in calls] == [("GET", "/things", 503), ("GET", "/things", 429),
                                                             ("GET", "/things", 200)]


def test_gives_up_with_a_transient_failure_naming_the_status():
    app = ScriptedApp([(500, {})] * 4)
    with pytest.raises(TransientFailure, match="answered 500 after 4 tries") as info:
        client_for(app, []).request("GET", "/x")
    assert info.value.status == 500


def test_a_post_is_not_resent_after_a_500_but_is_after_a_429():
    app = ScriptedApp([(500, {})])
    assert client_for(app, []).request("POST", "/upload", content=b"x").status_code == 500
    assert len(app.seen) == 1
    app = ScriptedApp([(429, {"Retry-After": "1"}), (201, {})])
    assert client_for(app, []).request("POST", "/upload", content=b"x").status_code == 201
    assert len(app.seen) == 2


def test_a_dropped_post_is_reported_as_delivery_unknown_not_resent():
    app = ScriptedApp([httpx.RemoteProtocolError("peer closed connection")])
    with pytest.raises(DeliveryUnknown, match="may have been processed"):
        client_for(app, []).request("POST", "/upload", content=b"x")
    assert len(app.seen) == 1


def test_a_dropped_get_is_retried():
    app = ScriptedApp([httpx.ReadTimeout("slow"), (200, {})])
    assert client_for(app, []).request("GET", "/x").status_code == 200


def test_retry_after_parsing_caps_and_tolerates_garbage():
    assert parse_retry_after("30", cap=10) == 10
    assert parse_retry_after("soon", cap=10) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap=10) == 0.0
