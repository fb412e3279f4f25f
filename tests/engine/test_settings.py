"""Production settings are strict with DEBUG off, and nothing is written by importing them.

Each test starts a fresh interpreter: settings are read once per process, from the
environment, and the test run's own environment (tests/pytest_env.py) is left out."""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
RUN_ENV = ("DEBUG", "SECRET_KEY", "CREDENTIAL_KEYS", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL",
           "VAR_DIR", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
           "SECURE_PROXY_SSL_HEADER", "CELERY_TASK_SOFT_TIME_LIMIT", "CELERY_TASK_TIME_LIMIT", "DJANGO_SETTINGS_MODULE",
           "DJANGO_ALLOW_ASYNC_UNSAFE")  # set by the browser tests' Playwright, in this process
SERVERS = {"DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", "CELERY_BROKER_URL": "redis://127.0.0.1:9/0"}


def production(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A production environment with real keys; the embedded defaults unless `overrides` say."""
    env = {k: v for k, v in os.environ.items() if k not in RUN_ENV}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), CREDENTIAL_KEYS=Fernet.generate_key().decode(),
               ALLOWED_HOSTS="connector.example.com", VAR_DIR=str(tmp_path / "var"),
               DJANGO_SETTINGS_MODULE="connector.settings")
    env.update(overrides)
    return env


def run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def settings_of(env: dict[str, str], *names: str) -> dict[str, object]:
    code = ("import json, django; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))")
    done = run(env, "-c", code)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("debug", ["0", "1"])
def test_importing_the_settings_creates_no_folder(tmp_path, debug):
    done = run(production(tmp_path, DEBUG=debug), "-c", "import connector.settings")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_process_makes_the_folders_of_the_embedded_defaults_only_when_it_uses_them(tmp_path):
    on_servers = run(production(tmp_path, **SERVERS), "-c", "import django; django.setup()")
    assert on_servers.returncode == 0, on_servers.stderr
    assert list(tmp_path.iterdir()) == [], "a production start on PostgreSQL and Redis writes nothing"

    embedded = run(production(tmp_path, DEBUG="1"), "-c", "import django; django.setup()")
    assert embedded.returncode == 0, embedded.stderr
    assert all((tmp_path / "var" / "broker" / sub).is_dir() for sub in ("queue", "processed", "control"))


def test_the_simulators_are_installed_with_debug_only(tmp_path):
    assert "sandbox" not in settings_of(production(tmp_path, **SERVERS), "INSTALLED_APPS")["INSTALLED_APPS"]
    assert "sandbox" in settings_of(production(tmp_path, DEBUG="1"), "INSTALLED_APPS")["INSTALLED_APPS"]
    assert "Unknown command: 'sandbox'" in run(production(tmp_path, **SERVERS), "manage.py", "sandbox", "--help").stderr


def test_every_task_has_a_soft_then_a_hard_time_limit(tmp_path):
    code = "from connector.celery import app; print(app.conf.task_soft_time_limit, app.conf.task_time_limit)"
    done = run(production(tmp_path, **SERVERS), "-c", code)
    assert done.stdout.split() == ["1800", "1860"], done.stderr
    done = run(production(tmp_path, CELERY_TASK_SOFT_TIME_LIMIT="60", CELERY_TASK_TIME_LIMIT="90", **SERVERS), "-c", code)
    assert done.stdout.split() == ["60", "90"], done.stderr
    refused = run(production(tmp_path, CELERY_TASK_SOFT_TIME_LIMIT="90", CELERY_TASK_TIME_LIMIT="90", **SERVERS),
                  "manage.py", "check")
    assert refused.returncode != 0 and "connector.E007" in refused.stderr


def test_check_deploy_has_nothing_to_say_in_production(tmp_path):
    done = run(production(tmp_path, **SERVERS), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    relaxed = run(production(tmp_path, SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0", **SERVERS),
                  "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert relaxed.returncode != 0 and "security.W008" in relaxed.stderr and "security.W012" in relaxed.stderr


def test_hsts_preload_is_opt_in_and_check_deploy_is_clean_either_way(tmp_path):
    assert settings_of(production(tmp_path, **SERVERS), "SECURE_HSTS_PRELOAD")["SECURE_HSTS_PRELOAD"] is False
    opted = production(tmp_path, SECURE_HSTS_PRELOAD="1", **SERVERS)
    assert settings_of(opted, "SECURE_HSTS_PRELOAD", "SILENCED_SYSTEM_CHECKS") == {
        "SECURE_HSTS_PRELOAD": True, "SILENCED_SYSTEM_CHECKS": []}
    done = run(opted, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0 and "System check identified no issues" in done.stdout, done.stderr


def test_production_defaults_are_https_only_and_each_can_be_set(tmp_path):
    names = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
             "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER")
    assert settings_of(production(tmp_path, **SERVERS), *names) == {
        "SECURE_SSL_REDIRECT": True, "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None}
    demo = settings_of(production(tmp_path, DEBUG="1"), *names)
    assert not any(demo.values()), "the demo serves plain HTTP on loopback"
    proxied = settings_of(production(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", SECURE_HSTS_SECONDS="60",
                                     **SERVERS), "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS")
    assert proxied == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"], "SECURE_HSTS_SECONDS": 60}


@override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
def test_behind_a_proxy_a_request_it_received_over_https_is_served(client):
    url = reverse("admin:login")
    assert client.get(url).status_code == 301, "plain HTTP goes to HTTPS"
    assert client.get(url, headers={"X-Forwarded-Proto": "https"}).status_code == 200
