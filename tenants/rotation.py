"""Re-encrypt every stored secret under the newest credential key.

Put the new key first in CREDENTIAL_KEYS (keeping the old ones after it), run
`manage.py rotate_credentials`, then drop the old keys. Loading a row decrypts each value
with whichever key matches; writing it back encrypts it with the first key.
"""
from __future__ import annotations

from django.db import transaction

from connector.fields import encrypted_fields

from .models import CONNECTION_MODELS


def credentials_rotate() -> dict[str, int]:
    """Returns, per connection table, how many rows were re-encrypted."""
    rotated: dict[str, int] = {}
    for model in CONNECTION_MODELS:
        fields = encrypted_fields(model)
        count = 0
        with transaction.atomic():
            for connection in model.objects.select_for_update().only("pk", *fields):
                values = {f: getattr(connection, f) for f in fields if getattr(connection, f)}
                if values:
                    model.objects.filter(pk=connection.pk).update(**values)
                    count += 1
        rotated[model._meta.db_table] = count
    return rotated
