"""A production start without real keys fails, naming the missing setting."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_check(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CREDENTIAL_KEYS", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_missing_keys_stop_a_production_start():
    result = run_check(DEBUG="0", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "CREDENTIAL_KEYS is not set" in result.stderr


def test_an_invalid_credential_key_is_named():
    result = run_check(DEBUG="0", ALLOWED_HOSTS="example.com", SECRET_KEY="x" * 50, CREDENTIAL_KEYS="not-a-key")
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS entry 1 is not a valid Fernet key" in result.stderr


def test_gunicorn_entry_point_refuses_to_load_without_keys():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CREDENTIAL_KEYS", "DEBUG")}
    env.update(DEBUG="0", ALLOWED_HOSTS="example.com")
    result = subprocess.run([sys.executable, "-c", "import connector.wsgi"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "CREDENTIAL_KEYS" in result.stderr


def test_debug_runs_with_development_fallbacks():
    result = run_check(DEBUG="1")
    assert result.returncode == 0, result.stderr
