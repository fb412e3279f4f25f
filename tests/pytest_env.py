"""Loaded with `-p tests.pytest_env` (pyproject addopts) before pytest-django reads the
settings: real keys for the run, generated fresh so no test depends on a known key."""
import os

from cryptography.fernet import Fernet

os.environ.setdefault("SECRET_KEY", "test-" + Fernet.generate_key().decode())
os.environ.setdefault("CREDENTIAL_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
# The test client, live servers and workers speak plain HTTP on loopback; everything else
# stays production's (tests/engine/test_settings.py checks those defaults without these).
for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
    os.environ.setdefault(name, "0")
