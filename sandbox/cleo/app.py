"""CleoSimulator: the WSGI app standing in for a Cleo Integration Cloud tenant.

Tests mount it in process (`sim.transport()`), the demo serves it with
`manage.py sandbox cleo --port PORT`. The methods below the WSGI entry point are the
control and inspection API tests use: seed users, folders and files, move the clock, arm
faults, read what was uploaded and which calls were refused.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .api import build_router
from .faults import Fault, FaultKind, lose_answer, take_fault
from .limit import SLIDING_WINDOW, PathLimit, retry_after_header
from .state import (
    PERMISSIONS,
    UPLOAD,
    Call,
    Folder,
    IdMaker,
    SimClock,
    StoredFile,
    Tenant,
    Token,
    User,
    isoformat,
)
from .transport import IN_PROCESS, SimulatorTransport
from .web import HttpError, Request, Response, json_response

# What a fresh simulator holds (seed=True): the demo and other flows' tests rely on these.
DEFAULT_TENANT = "acme"
SERVICE_USERNAME = "svc-ml-connector"
SERVICE_PASSWORD = "sandbox-password"
TOTP_USERNAME = "alice.totp"
TOTP_PASSWORD = "alice-password"
SSO_USERNAME = "bob.sso"
OUTBOUND_FOLDER = "Outbound"  # upload: 810s we send to partners
INBOUND_FOLDER = "Inbound"  # download: 810s partners send us
PROCESSED_FOLDER = "Inbound Processed"  # download: where picked-up files can be moved


class CleoSimulator:
    def __init__(
        self,
        *,
        rate_limit: float | None = 5,
        rate_algorithm: str = SLIDING_WINDOW,
        time_scale: float = 1.0,
        frozen_clock: bool = False,
        token_lifetime: float = 3600.0,
        refresh_lifetime: float = 86400.0,
        seed: bool = True,
        random_seed: int | None = None,
        hang_seconds: float = 35.0,
        **_ignored: Any,  # options meant for other simulators (e.g. seed_size)
    ) -> None:
        self.lock = threading.RLock()
        self.clock = SimClock(scale=time_scale, frozen=frozen_clock)
        self.ids = IdMaker(random_seed)
        self.limit = PathLimit(rate_limit, rate_algorithm)
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.hang_seconds = hang_seconds
        self.tenants: dict[str, Tenant] = {}
        self.tokens: dict[str, Token] = {}
        self.stored_files: dict[str, StoredFile] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._sequence = itertools.count()
        self._router = build_router()
        if seed:
            self.add_tenant(DEFAULT_TENANT)
            self.add_user(SERVICE_USERNAME, SERVICE_PASSWORD)
            self.add_user(TOTP_USERNAME, TOTP_PASSWORD, totp=True)
            self.add_user(SSO_USERNAME, sso=True)
            self.add_folder(OUTBOUND_FOLDER, UPLOAD)
            self.add_folder(INBOUND_FOLDER, "download")
            self.add_folder(PROCESSED_FOLDER, "download")

    # --- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        if request.path.startswith("/_sandbox/"):
            with self.lock:
                return self._inspect(request).wsgi(start_response)
        with self.lock:
            call = Call(self.clock.now(), request.method, request.path)
            self.calls.append(call)
            response, fault = self._answer(request, call)
        if fault is None:
            return response.wsgi(start_response)
        return self._lose_answer(fault, response, bool(environ.get(IN_PROCESS)), start_response)

    def _answer(self, request: Request, call: Call) -> tuple[Response, Fault | None]:
        wait = self.limit.check(f"{request.host}{request.path}", call.at)
        if wait is not None:
            call.status, call.outcome = 429, "rate limited"
            message = f"Too many requests to {request.path}: at most {self.limit.per_second:g} per second."
            return HttpError(429, message, {"Retry-After": retry_after_header(wait)}).response(), None
        fault = self._take_fault(request.method, request.path)
        if fault is not None and not fault.kind.after_processing:
            call.outcome = f"fault {fault.kind}"
            if fault.kind == FaultKind.ERROR_500:
                call.status = 500
                return HttpError(500, "Internal server error.").response(), None
            if fault.kind == FaultKind.UNAVAILABLE_503:
                call.status = 503
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return HttpError(503, "Service temporarily unavailable.", headers).response(), None
            return HttpError(504, "The server did not answer in time.").response(), fault
        try:
            handler, params = self._router.resolve(request.method, request.path)
            response = handler(self, request, **params)
        except HttpError as exc:
            response = exc.response()
        call.status = response.status
        if fault is not None:
            call.outcome = f"fault {fault.kind} (processed, answer lost)"
        return response, fault

    def _take_fault(self, method: str, path: str) -> Fault | None:
        return take_fault(self.faults, method, path)

    def _lose_answer(self, fault: Fault, response: Response, in_process: bool,
                     start_response: Callable) -> Iterable[bytes]:
        return lose_answer(fault, response, in_process=in_process, hang_seconds=self.hang_seconds,
                           start_response=start_response)

    # --- used by the handlers ----------------------------------------------------------------

    def tenant_for_host(self, host: str) -> Tenant:
        for tenant in self.tenants.values():
            if tenant.host == host:
                return tenant
        return self._tenant(None)

    def issue_token(self, user: User, kind: str) -> Token:
        lifetime = self.token_lifetime if kind == "access" else self.refresh_lifetime
        token = Token(self.ids.new("at_" if kind == "access" else "rt_"), user.username, user.tenant,
                      self.clock.now() + lifetime, kind)
        self.tokens[token.value] = token
        return token

    def folder_by_id(self, folder_id: str) -> Folder:
        for tenant in self.tenants.values():
            if folder_id in tenant.folders:
                return tenant.folders[folder_id]
        raise KeyError(folder_id)

    def files_in(self, folder: Folder) -> list[StoredFile]:
        """Oldest first, as Cleo lists them."""
        return sorted((f for f in self.stored_files.values() if f.folder_id == folder.id),
                      key=lambda f: (f.created, f.seq))

    def store_file(self, folder: Folder, name: str, content: bytes, created: float | None = None) -> StoredFile:
        stored = StoredFile(self.ids.new(), name, bytes(content), folder.id,
                            self.clock.now() if created is None else created, next(self._sequence))
        self.stored_files[stored.id] = stored
        return stored

    # --- control API for tests and the demo --------------------------------------------------

    def transport(self) -> SimulatorTransport:
        """An httpx transport serving this simulator in process, faults included."""
        return SimulatorTransport(self)

    def add_tenant(self, name: str, *, host: str | None = None) -> Tenant:
        """A Cleo tenant; requests whose Host matches `host` reach it, others the first one."""
        with self.lock:
            tenant = self.tenants.setdefault(name, Tenant(name, host))
            return tenant

    def _tenant(self, name: str | None) -> Tenant:
        if not self.tenants:
            self.add_tenant(DEFAULT_TENANT)
        return self.tenants[name] if name else next(iter(self.tenants.values()))

    def add_user(self, username: str, password: str | None = None, *, tenant: str | None = None,
                 totp: bool = False, sso: bool = False) -> User:
        with self.lock:
            owner = self._tenant(tenant)
            user = User(username, password, owner.name, totp=totp, sso=sso)
            owner.users[username] = user
            return user

    def add_folder(self, name: str, permission: str = UPLOAD, *, tenant: str | None = None) -> Folder:
        if permission not in PERMISSIONS:
            raise ValueError(f"permission must be one of {PERMISSIONS}")
        with self.lock:
            owner = self._tenant(tenant)
            folder = Folder(self.ids.new(), name, permission, owner.name, self.clock.now())
            owner.folders[folder.id] = folder
            return folder

    def folder(self, name: str, *, tenant: str | None = None) -> Folder:
        with self.lock:
            for folder in self._tenant(tenant).folders.values():
                if folder.name == name:
                    return folder
        raise KeyError(f"no folder named {name!r}")

    def put_file(self, folder_name: str, name: str, content: bytes | str, *, tenant: str | None = None,
                 created: datetime | float | None = None) -> StoredFile:
        """Seed a file as if a partner had dropped it (any folder, no permission check)."""
        data = content.encode() if isinstance(content, str) else content
        at = created.timestamp() if isinstance(created, datetime) else created
        with self.lock:
            return self.store_file(self.folder(folder_name, tenant=tenant), name, data, at)

    def files(self, folder_name: str, *, tenant: str | None = None) -> list[StoredFile]:
        """What the folder holds now, oldest first (uploads included)."""
        with self.lock:
            return self.files_in(self.folder(folder_name, tenant=tenant))

    def file_names(self, folder_name: str, *, tenant: str | None = None) -> list[str]:
        return [f.name for f in self.files(folder_name, tenant=tenant)]

    def advance(self, seconds: float) -> None:
        """Move the simulated clock (tokens expire, rate windows pass)."""
        with self.lock:
            self.clock.advance(seconds)

    def expire_tokens(self) -> None:
        """Every access token issued so far has expired; refresh tokens still work."""
        with self.lock:
            for token in self.tokens.values():
                if token.kind == "access":
                    token.expires_at = min(token.expires_at, self.clock.now())

    def revoke_tokens(self) -> None:
        """Every token, access and refresh, stops working: only a new login gets in."""
        with self.lock:
            for token in self.tokens.values():
                token.revoked = True

    def fail_next(self, kind: FaultKind | str, *, method: str | None = None, path_contains: str | None = None,
                  times: int = 1, retry_after: int | None = None) -> Fault:
        """Arm a fault for the next `times` requests matching method and path fragment."""
        fault = Fault(FaultKind(kind), method, path_contains, times, retry_after)
        with self.lock:
            self.faults.append(fault)
        return fault

    def set_rate_limit(self, per_second: float | None, algorithm: str | None = None) -> None:
        with self.lock:
            self.limit = PathLimit(per_second, algorithm or self.limit.algorithm)

    def calls_to(self, *, path_contains: str = "", method: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls
                    if path_contains in c.path and (method is None or c.method == method.upper())]

    def rejected(self, *, path_contains: str = "") -> int:
        """How many requests were refused with 429."""
        return sum(1 for c in self.calls_to(path_contains=path_contains) if c.status == 429)

    def clear_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # --- the same over HTTP, for the demo ----------------------------------------------------

    def _inspect(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")[1:]
        if request.method == "GET" and parts == ["state"]:
            return json_response(self._state())
        if request.method == "POST" and len(parts) == 3 and parts[0] == "folders" and parts[2] == "files":
            name = request.query.get("filename", "")
            if not name:
                return HttpError(400, "filename is required").response()
            try:
                stored = self.put_file(parts[1], name, request.body)
            except KeyError:
                return HttpError(404, f"no folder named {parts[1]!r}").response()
            return json_response({"id": stored.id, "name": stored.name, "size": stored.size}, 201)
        if request.method == "GET" and len(parts) == 4 and parts[0] == "folders" and parts[2] == "files":
            # A file's bytes, as a partner downloading what we uploaded would get them.
            try:
                folder = self.folder(parts[1])
            except KeyError:
                return HttpError(404, f"no folder named {parts[1]!r}").response()
            stored = next((f for f in self.files_in(folder) if f.id == parts[3]), None)
            if stored is None:
                return HttpError(404, f"no file {parts[3]!r} in {parts[1]!r}").response()
            return Response(200, stored.content, {"Content-Type": "application/octet-stream"})
        if request.method == "POST" and parts == ["clock", "advance"]:
            self.advance(float(request.query.get("seconds", "0")))
            return json_response({"now": isoformat(self.clock.now())})
        if request.method == "POST" and parts == ["faults"]:
            body = json.loads(request.body or b"{}")
            fault = self.fail_next(body["kind"], method=body.get("method"), path_contains=body.get("path_contains"),
                                   times=int(body.get("times", 1)), retry_after=body.get("retry_after"))
            return json_response({"kind": str(fault.kind), "remaining": fault.remaining}, 201)
        return HttpError(404, f"no sandbox endpoint {request.method} {request.path}").response()

    def _state(self) -> dict[str, Any]:
        return {
            "now": isoformat(self.clock.now()),
            "tenants": [
                {
                    "name": tenant.name,
                    "users": sorted(tenant.users),
                    "folders": [
                        {"name": folder.name, "permission": folder.permission,
                         "files": [{"id": f.id, "name": f.name, "size": f.size, "created": isoformat(f.created)}
                                   for f in self.files_in(folder)]}
                        for folder in tenant.folders.values()
                    ],
                }
                for tenant in self.tenants.values()
            ],
            "calls": len(self.calls),
            "rejected_429": sum(1 for c in self.calls if c.status == 429),
        }
