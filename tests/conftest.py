"""Test-wide settings: real keys for the run, and the services CI points at.

Keys are generated per run so that nothing in the tests depends on a known key; the
environment is set before pytest-django configures Django.
"""
import os

from cryptography.fernet import Fernet

os.environ.setdefault("SECRET_KEY", "test-" + Fernet.generate_key().decode())
os.environ.setdefault("CREDENTIAL_KEYS", Fernet.generate_key().decode())
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
