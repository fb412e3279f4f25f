"""Re-encrypt every stored secret under the newest credential key.

Put the new key first in CREDENTIAL_KEYS (keeping the old ones after it), run
`manage.py rotate_credentials`, then drop the old keys. Loading a row decrypts each value
with whichever key matches; writing it back encrypts it with the first key.

Every installed model with an EncryptedTextField is covered (connections here, webhook
signing secrets in billing), found through the app registry so tenants imports no app.
"""
from __future__ import annotations

from django.apps import apps
from django.db import models, transaction

from connector.fields import encrypted_fields


def models_with_credentials() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if encrypted_fields(model)]


def credentials_rotate() -> dict[str, int]:
    """Returns, per table holding secrets, how many rows were re-encrypted."""
    rotated: dict[str, int] = {}
    for model in models_with_credentials():
        fields = encrypted_fields(model)
        count = 0
        with transaction.atomic():
            for row in model.objects.select_for_update().only("pk", *fields):
                values = {f: getattr(row, f) for f in fields if getattr(row, f)}
                if values:
                    model.objects.filter(pk=row.pk).update(**values)
                    count += 1
        rotated[model._meta.db_table] = count
    return rotated
