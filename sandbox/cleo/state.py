"""What the simulated Cleo tenant holds: its clock, users, tokens, folders and files.

Everything here is plain data guarded by the simulator's lock; the HTTP handlers in api.py
read and change it, and tests reach it through the control methods on CleoSimulator.
"""
from __future__ import annotations

import random
import re
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

ID_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 22  # Cleo ids are 22 characters (a base62 UUID)

UPLOAD = "upload"
DOWNLOAD = "download"
PERMISSIONS = (UPLOAD, DOWNLOAD)


class SimClock:
    """Simulated time: real time multiplied by `scale`, plus whatever a test advanced.

    `frozen=True` stops real time from counting: only `advance` moves the clock. A bench
    scales time up (scale=20 makes a 5-per-second limit pass 100 requests a real second)
    and paces its client with the same scale."""

    def __init__(self, *, scale: float = 1.0, frozen: bool = False, start: datetime | None = None) -> None:
        self.scale = scale
        self.frozen = frozen
        self._start = (start or datetime.now(UTC)).timestamp()
        self._real_start = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        running = 0.0 if self.frozen else (time.monotonic() - self._real_start) * self.scale
        return self._start + running + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


def isoformat(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class IdMaker:
    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)

    def new(self, prefix: str = "") -> str:
        return prefix + "".join(self._random.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


@dataclass
class User:
    username: str
    password: str | None
    tenant: str
    totp: bool = False
    sso: bool = False


@dataclass
class Token:
    value: str
    username: str
    tenant: str
    expires_at: float
    kind: str  # "access" or "refresh"
    revoked: bool = False


@dataclass
class Folder:
    id: str
    name: str
    permission: str
    tenant: str
    created: float


@dataclass
class StoredFile:
    id: str
    name: str
    content: bytes
    folder_id: str
    created: float
    seq: int
    modified: float = 0.0

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass
class Call:
    """One request as the simulator saw it; `status` is None when no response went back."""

    at: float
    method: str
    path: str
    status: int | None = None
    outcome: str = ""


@dataclass
class Tenant:
    name: str
    host: str | None
    users: dict[str, User] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)


# SCIM-style filters Cleo accepts on collections: `name eq "x"` and friends.
FILTER = re.compile(r'^\s*(\w+)\s+(eq|ne|co|sw|ew)\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
FILTER_OPS = {
    "eq": lambda value, wanted: value == wanted,
    "ne": lambda value, wanted: value != wanted,
    "co": lambda value, wanted: wanted in value,
    "sw": lambda value, wanted: value.startswith(wanted),
    "ew": lambda value, wanted: value.endswith(wanted),
}


def parse_filter(text: str, attributes: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(attribute, op, value) or None when the text is not a filter this API supports."""
    match = FILTER.match(text)
    if not match or match.group(1) not in attributes:
        return None
    value = re.sub(r"\\(.)", r"\1", match.group(3))
    return match.group(1), match.group(2).lower(), value
