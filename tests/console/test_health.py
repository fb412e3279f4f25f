"""/health/ for load balancers: no login, database, broker, Redis when configured, beat seen
recently; a stale beat makes it fail; nothing secret in the output.

Asked over HTTP from the live server, as a load balancer asks: the view is async, and the
test client would run it in this thread, where the browser tests' event loop may be running."""
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from console.health import HEARTBEAT_TASK, beat_heartbeat_record, beat_problem, health_checks
from console.tasks import beat_heartbeat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def health(live_server):
    def get(query: str = "?format=json", **headers):
        return httpx.get(f"{live_server.url}/health/{query}", headers=headers, timeout=30)
    return get


def test_healthy_when_beat_ran_its_heartbeat(health):
    beat_heartbeat()
    response = health()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["BeatSeenRecently()"] == "OK" and body["Broker()"] == "OK" and body["Database(alias='default')"] == "OK"
    if settings.REDIS_URL:
        assert any(key.startswith("Redis(") and value == "OK" for key, value in body.items())
    assert health("", Accept="text/html").status_code == 200, "a load balancer's plain GET"


def test_a_stale_heartbeat_fails_the_check_and_says_which_part_is_down(health):
    now = timezone.now()
    beat_heartbeat_record(now=now - timedelta(seconds=settings.HEALTH_BEAT_MAX_AGE_SECONDS + 5))
    response = health()
    assert response.status_code == 500
    assert response.json()["BeatSeenRecently()"].startswith("Unavailable: beat has not been seen for")
    # beat still sends it, but no worker runs it:
    PeriodicTask.objects.filter(task=HEARTBEAT_TASK).update(last_run_at=now)
    assert "no worker has run it" in beat_problem(now=now)


def test_no_heartbeat_yet_is_unhealthy():
    assert beat_problem() == "beat has not been seen for ever (no heartbeat yet)"


def test_the_output_names_no_url_password_or_host_credentials(health):
    beat_heartbeat()
    with override_settings(REDIS_URL="redis://:hunter2-SECRET@127.0.0.1:1/0"):
        text = health("?format=text").text
    assert "hunter2-SECRET" not in text and "redis://" not in text
    assert "Redis(" in text and "Unavailable" in text, "an unreachable Redis is reported, by name only"
    database = settings.DATABASES["default"]
    for secret in (database.get("PASSWORD"), settings.SECRET_KEY, *settings.CREDENTIAL_KEYS):
        if secret:
            assert secret not in text


def test_redis_is_checked_only_when_configured():
    with override_settings(REDIS_URL=""):
        assert not any("redis" in str(check).lower() for check in health_checks())
    with override_settings(REDIS_URL="redis://127.0.0.1:6379/12"):
        assert any("redis" in str(check).lower() for check in health_checks())
