"""Encrypted model fields on cryptography's MultiFernet.

Why not django-fernet-encrypted-fields: it derives its keys from SECRET_KEY and a salt, so
rotating SECRET_KEY (sessions, CSRF) would also break every stored credential. Here the
credential keys are their own setting (CREDENTIAL_KEYS, newest first): MultiFernet encrypts
with the first and decrypts with any, and `manage.py rotate_credentials` re-encrypts every
stored value under the newest key so old keys can be dropped.

The column holds only the Fernet token; the plaintext exists in memory on the model
instance. An empty value is stored as an empty string, not encrypted, so "not set" stays
visible without revealing anything.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("CREDENTIAL_KEYS is not set: stored credentials cannot be encrypted.")
    return MultiFernet([Fernet(key) for key in keys])


def credential_fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.CREDENTIAL_KEYS))


def encrypt(value: str) -> str:
    return credential_fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return credential_fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never echo the token: name the problem and the fix.
        raise ImproperlyConfigured(
            "A stored credential cannot be decrypted with any key in CREDENTIAL_KEYS; "
            "was a key removed before `rotate_credentials` ran?"
        ) from None


class EncryptedTextField(models.TextField):
    """A text field whose column holds a Fernet token, never the plaintext."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str:
        return decrypt(value) if value else ""

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        return encrypt(value) if value else ""


def encrypted_fields(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
