"""Every Cleo path, link relation and query parameter the client uses, in one place.

Only two paths are built by hand; everything else is followed from `_links.<rel>.href` in
the answers, so a difference found at a real customer is a one-line change here.
Marks as in SYSTEMS.md: (doc) published, (seen) in public integration code, (assumed).
"""
from __future__ import annotations

import re

AUTHENTICATION = "/api/authentication"  # (doc) form-encoded password and refresh grants
FOLDERS = "/api/folders"  # (assumed) the mailbox folders the account can see

REL_SELF = "self"  # (seen) GET the resource, DELETE a file
REL_FILES = "files"  # (assumed) on a folder: list (GET) and upload (POST ?filename=)
REL_CONTENT = "content"  # (assumed) on a file: the raw bytes
REL_MOVE = "move"  # (assumed, simulator) on a file in a download folder: POST {"folderId": ...}

UPLOAD_FILENAME_PARAM = "filename"  # (assumed)
MOVE_FOLDER_FIELD = "folderId"  # (assumed)

# Collections (seen): ?startIndex=0&count=100&filter=name eq "x"
START_INDEX_PARAM = "startIndex"
COUNT_PARAM = "count"
FILTER_PARAM = "filter"
FIRST_INDEX = 0
PAGE_SIZE = 100

ID_SEGMENT = re.compile(r"/[A-Za-z0-9]{22}(?=/|$)")


def name_equals(name: str) -> str:
    """A SCIM filter matching one exact name; quotes and backslashes escaped."""
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'name eq "{escaped}"'


def rate_limit_key(path: str) -> str:
    """The bucket a request counts against: its path with 22-character ids folded.

    Cleo says "per API path" without saying whether /api/files/A/content and
    /api/files/B/content are one path or two. Folding ids paces them together, which is
    safe under either reading; downloading many files costs a little time, not 429s.
    Return `path` unchanged here if a tenant turns out to count literal paths."""
    return ID_SEGMENT.sub("/{id}", path)
