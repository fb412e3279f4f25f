"""The Cleo Integration Cloud client the EDI flows use to move X12 files.

    with CleoClient(tenant.cleoconnection) as cleo:
        outbound = cleo.folder_named("Outbound")
        name = unique_upload_name(partner.code, invoice.key, timezone.now())
        result = cleo.upload_file(outbound, name, x12_bytes)

What the API is known to offer, and what is assumed, is in docs/SYSTEMS.md and
paths.py; sandbox/cleo simulates it.
"""
from .client import CleoClient, CleoNotFound, FileTooLarge
from .resources import CleoFile, CleoFolder, UploadResult, unique_upload_name

__all__ = ["CleoClient", "CleoFile", "CleoFolder", "CleoNotFound", "FileTooLarge", "UploadResult", "unique_upload_name"]
