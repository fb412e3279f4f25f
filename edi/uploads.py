"""A Cleo upload as an outside effect of a step: the one way both EDI flows send a file.

Cleo has no idempotency key and keeps a second upload as a second file at the partner, so the
file's name is the key: unique to the document (edi.cleo.unique_upload_name), fixed when the
effect is declared, and looked for in the folder before any try that may repeat one (after a
crash, or an answer lost even after the client's own looks). See connector/effects.py.
"""
from __future__ import annotations

from typing import Any

from connector.pipeline import StepContext

from .cleo import CleoClient, CleoFolder, UploadResult


def upload_once(ctx: StepContext, *, cleo: CleoClient, folder: CleoFolder, name: str, content: bytes,
                effect: str = "upload") -> dict[str, Any]:
    """Put `content` in `folder` as `name`, at most once; returns {"cleo_file_id", "found_in_folder"}.

    `name` must be the same on every try: a name saved on the document before this step (the
    document's artifact_name), never one made up again on a retry."""
    return ctx.effect(
        effect, key=name,
        do=lambda key: _uploaded(cleo.upload_file(folder, key, content)),
        look=lambda: _uploaded(cleo.find_upload(folder, name, content)),
    )


def _uploaded(result: UploadResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {"cleo_file_id": result.file.id, "found_in_folder": result.found_existing}
