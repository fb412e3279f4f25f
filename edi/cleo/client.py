"""CleoClient: one tenant's Cleo Integration Cloud account, as the EDI flows use it.

Built on the engine's HTTP policy (timeouts, retries with jitter, Retry-After, call
records) with two things Cleo needs on top:

- Pacing. Cleo allows about N requests per second per API path and answers 429 above it.
  Every request first takes a slot from the shared limiter (connector.ratelimit), keyed by
  connection and path, so all workers together stay under the limit. A 429 that still
  arrives holds the shared bucket for its Retry-After (every worker waits, not only the one
  refused), and the policy retries the request after it.
- Uploads that never repeat blindly. Cleo has no idempotency key and a second upload is a
  second document at the partner. The caller names the file uniquely
  (`unique_upload_name`); when a try's outcome is unknown (timeout, dropped connection,
  5xx) the folder is searched for that name before anything is sent again.

Links the API returns are followed rather than ids built into paths; the few paths and
relations we name live in paths.py. Folder ids are stable, so `folder(name)` remembers them
for a cycle's length in this process; a folder that answers 404 is forgotten and the step
retried, so a folder recreated in Cleo is found again.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit
from weakref import WeakKeyDictionary

import httpx
from django.utils import timezone

from connector.failures import ConfigFailure, DataFailure, TransientFailure
from connector.http import DeliveryUnknown, HttpPolicy, PolicyClient
from connector.ratelimit import Rate, RateLimiter, shared_limiter
from tenants.models import CleoConnection

from . import paths
from .auth import SYSTEM, CleoSession, server_message
from .resources import CleoFile, CleoFolder, UploadResult

log = logging.getLogger(__name__)

DEFAULT_REQUESTS_PER_SECOND = 5
# Pace at 95% of the stated limit: evenly spaced requests then leave about 50 ms in every
# second for network jitter before a strict per-second window on Cleo's side counts one
# too many. The 5% is cheaper than the 429s and Retry-After stalls it prevents.
PACE = 0.95
UPLOAD_TRIES = 3
MAX_PAGES = 10_000
# How long a folder's id is trusted without looking it up again: about one polling cycle.
FOLDER_CACHE_SECONDS = 300.0
# Per shared HTTP client (so per connection and process): (username, folder name) -> (folder, until).
_folders: WeakKeyDictionary[httpx.Client, dict[tuple[str, str], tuple[CleoFolder, float]]] = WeakKeyDictionary()
_folders_lock = threading.Lock()


class CleoNotFound(DataFailure):
    """The file or folder is gone (another worker picked it up, or someone deleted it)."""


class FileTooLarge(DataFailure):
    """A download went past the size the caller allows: stopped there, nothing kept."""

    def __init__(self, message: str, *, received: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.received = received


DOWNLOAD_CHUNK = 256 * 1024


class CleoClient:
    def __init__(
        self,
        connection: CleoConnection,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: HttpPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        now: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.connection = connection
        self.limiter = limiter or shared_limiter()
        self.rate = Rate((connection.requests_per_second or DEFAULT_REQUESTS_PER_SECOND) * PACE)
        self._bucket_prefix = f"cleo:{connection.pk or id(connection)}:"
        self.http = PolicyClient(
            connection.base_url, system=SYSTEM, policy=policy, transport=transport, sleep=sleep,
            before_request=self._pace, headers={"Accept": "application/json"}, owner=(SYSTEM, connection.pk),
            after_throttled=self._slow_down, tenant_id=getattr(connection, "tenant_id", None),
        )
        self.session = CleoSession(connection, self.http, now=now)
        origin = urlsplit(connection.base_url)
        self._origin = (origin.scheme, origin.netloc)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CleoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- folders -----------------------------------------------------------------------------

    def list_folders(self) -> list[CleoFolder]:
        """Every mailbox folder the account can see."""
        return [CleoFolder.from_json(item) for item in self._collect(self._url(paths.FOLDERS), "list folders")]

    def folder_named(self, name: str) -> CleoFolder:
        """The one folder called `name`; a config failure if there is none or more than one."""
        found = [CleoFolder.from_json(item)
                 for item in self._collect(self._url(paths.FOLDERS), "find a folder", name_filter=name)]
        found = [folder for folder in found if folder.name == name]
        if len(found) != 1:
            problem = "no folder" if not found else f"{len(found)} folders"
            raise ConfigFailure(f"Cleo shows {problem} named '{name}' to '{self.connection.username}': "
                                "check the configured folder name", system=SYSTEM)
        return found[0]

    def folder(self, name: str) -> CleoFolder:
        """`folder_named`, remembered for FOLDER_CACHE_SECONDS by every client of this
        connection in the process, so each upload does not look its folder up again."""
        key = (self.connection.username, name)
        with _folders_lock:
            hit = _folders.setdefault(self.http.http, {}).get(key)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        found = self.folder_named(name)
        with _folders_lock:
            _folders.setdefault(self.http.http, {})[key] = (found, time.monotonic() + FOLDER_CACHE_SECONDS)
        return found

    def forget_folder(self, folder: CleoFolder) -> None:
        with _folders_lock:
            cached = _folders.get(self.http.http, {})
            for key in [k for k, (f, _) in cached.items() if f.id == folder.id]:
                del cached[key]

    def _folder_gone(self, folder: CleoFolder, exc: CleoNotFound) -> TransientFailure:
        """A folder we hold an id for answers 404: forget it; the next try looks it up by name
        (and fails as configuration if it no longer exists)."""
        self.forget_folder(folder)
        return TransientFailure(f"folder '{folder.name}' answered 404 ({exc.message}): looked up again on the next try",
                                system=SYSTEM)

    # --- files -------------------------------------------------------------------------------

    def list_files(self, folder: CleoFolder, *, name: str | None = None) -> list[CleoFile]:
        """The folder's files, oldest first, every page read before returning (so deleting
        files while walking the list cannot shift a page under us)."""
        try:
            items = self._collect(folder.link(paths.REL_FILES), f"list files in '{folder.name}'", name_filter=name)
        except CleoNotFound as exc:
            raise self._folder_gone(folder, exc) from exc
        files = [CleoFile.from_json(item) for item in items]
        if name is not None:
            files = [f for f in files if f.name == name]
        # Cleo lists oldest first; a stable sort costs nothing and keeps that promise ours.
        return sorted(files, key=CleoFile.sort_key)

    def find_file(self, folder: CleoFolder, name: str) -> CleoFile | None:
        """The file called `name` in `folder`, if any: the check before any re-upload."""
        files = self.list_files(folder, name=name)
        if len(files) > 1:
            log.warning("Cleo folder '%s' holds %d files named '%s'", folder.name, len(files), name)
        return files[0] if files else None

    def find_upload(self, folder: CleoFolder, name: str, content: bytes) -> UploadResult | None:
        """An earlier upload of `content` as `name`, if Cleo holds one (found_existing), else None;
        a file of that name with another size is a data failure, never taken for ours."""
        existing = self.find_file(folder, name)
        return None if existing is None else self._found(existing, name, content, 0)

    def upload_file(self, folder: CleoFolder, name: str, content: bytes, *, check_first: bool = False) -> UploadResult:
        """Store `content` as `name` in `folder`, at most once.

        `name` must be unique to this document (see unique_upload_name). A try whose outcome
        is unknown is followed by a search for the name before the next try; found means
        done. `check_first` searches before the first try too (a replay after a crash)."""
        posts = 0
        look = check_first  # search before the next try
        unknown = check_first  # some earlier try (or run) may have stored it
        last_failure: TransientFailure | None = None
        for _ in range(UPLOAD_TRIES):
            if look:
                existing = self._look(folder, name, last_failure, outcome_unknown=unknown)
                if existing is not None:
                    return self._found(existing, name, content, posts)
            posts += 1
            try:
                response = self._send("POST", folder.link(paths.REL_FILES), resend_safe=False,
                                      params={paths.UPLOAD_FILENAME_PARAM: name}, content=content,
                                      headers={"Content-Type": "application/octet-stream"})
            except TransientFailure as exc:
                # DeliveryUnknown: it may be stored. Any other transient failure says it was
                # not (no connection, 429/503 to the end), but a look costs one GET: look anyway.
                log.info("Upload of '%s' to '%s' did not complete (%s); checking the folder", name, folder.name, exc)
                look, last_failure = True, exc
                unknown = unknown or isinstance(exc, DeliveryUnknown)
                continue
            if response.status_code >= 500:  # the policy does not resend a POST on 500/502/504
                look, unknown = True, True
                last_failure = TransientFailure(f"upload of '{name}' answered {response.status_code}",
                                                status=response.status_code, system=SYSTEM)
                continue
            if response.status_code == 404:
                raise self._folder_gone(folder, CleoNotFound(server_message(response), status=404, system=SYSTEM))
            self._raise_for_status(response, f"upload '{name}' to '{folder.name}'")
            return UploadResult(self._uploaded(response, folder, name), found_existing=False, tries=posts)
        return self._settle_failed_upload(folder, name, content, posts, last_failure, outcome_unknown=unknown)

    def download_file_to(self, file: CleoFile, sink: BinaryIO, *, limit: int | None = None) -> int:
        """Stream the file's bytes into `sink` in chunks (never the whole file in memory);
        returns how many. Past `limit` bytes it stops and raises FileTooLarge. Paced like every
        call; a 401 renews the token once; a broken transfer is transient (the step's retry
        downloads again into a fresh sink)."""
        url = self._resolve(file.link(paths.REL_CONTENT))
        path = urlsplit(url).path
        token = self.session.bearer()
        for renewed in (False, True):
            self._pace("GET", path)
            received = 0
            try:
                with self.http.http.stream("GET", url, headers={"Accept": "*/*", "Authorization": f"Bearer {token}"}
                                           ) as response:
                    if response.status_code == 401 and not renewed:
                        token = self.session.renew_after_401(token)
                        continue
                    if not response.is_success:
                        response.read()
                        self._raise_for_status(response, f"download '{file.name}'")
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        received += len(chunk)
                        if limit is not None and received > limit:
                            raise FileTooLarge(f"'{file.name}' is larger than {limit:,} bytes: download stopped",
                                               received=received, system=SYSTEM)
                        sink.write(chunk)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise TransientFailure(f"download '{file.name}' broke off after {received:,} bytes "
                                       f"({type(exc).__name__})", system=SYSTEM) from exc
            return received
        raise ConfigFailure(f"Cleo refused a freshly issued token for GET {path}", status=401, system=SYSTEM)

    def download_file(self, file: CleoFile) -> bytes:
        response = self._send("GET", file.link(paths.REL_CONTENT), headers={"Accept": "*/*"})
        self._raise_for_status(response, f"download '{file.name}'")
        return response.content

    def delete_file(self, file: CleoFile) -> bool:
        """Delete after pickup. False when the file was already gone (a retry, or another
        worker): the end state is the same."""
        response = self._send("DELETE", file.link(paths.REL_SELF))
        if response.status_code == 404:
            return False
        self._raise_for_status(response, f"delete '{file.name}'")
        return True

    def move_file(self, file: CleoFile, to_folder: CleoFolder) -> CleoFile:
        """Move after pickup, through the file's `move` link.

        Moving a file to the folder it is already in changes nothing, so unlike an upload
        the request may be resent after a lost answer. Tenants that offer no move link get
        a config failure: use delete after pickup there."""
        if paths.REL_MOVE not in file.links:
            raise ConfigFailure(f"Cleo offers no move for '{file.name}': configure delete after pickup instead",
                                system=SYSTEM)
        response = self._send("POST", file.link(paths.REL_MOVE), resend_safe=True,
                              json={paths.MOVE_FOLDER_FIELD: to_folder.id})
        self._raise_for_status(response, f"move '{file.name}' to '{to_folder.name}'")
        return CleoFile.from_json(response.json())

    # --- uploads whose outcome is unknown ----------------------------------------------------

    def _found(self, existing: CleoFile, name: str, content: bytes, posts: int) -> UploadResult:
        if existing.size is not None and existing.size != len(content):
            raise DataFailure(
                f"Cleo already holds a file named '{name}' of {existing.size} bytes, not the {len(content)} we "
                "send: check it in Cleo before replaying", system=SYSTEM)
        log.info("Found '%s' already in Cleo after %d upload tries: not uploading again", name, posts)
        return UploadResult(existing, found_existing=True, tries=posts)

    def _settle_failed_upload(self, folder: CleoFolder, name: str, content: bytes, posts: int,
                              last_failure: TransientFailure | None, *, outcome_unknown: bool) -> UploadResult:
        """Every try failed: one last look decides between done and safe to retry."""
        existing = self._look(folder, name, last_failure, outcome_unknown=outcome_unknown)
        if existing is not None:
            return self._found(existing, name, content, posts)
        raise TransientFailure(
            f"upload of '{name}' to '{folder.name}' failed {posts} times and the file is not there "
            f"({last_failure.message if last_failure else 'no answer'}): safe to retry",
            retry_after=last_failure.retry_after if last_failure else None, system=SYSTEM) from last_failure

    def _look(self, folder: CleoFolder, name: str, cause: TransientFailure | None, *,
              outcome_unknown: bool) -> CleoFile | None:
        """find_file before a re-upload. If the folder cannot be read after a try that may
        have stored the file, the outcome stays unknown and the caller must hear exactly that."""
        try:
            return self.find_file(folder, name)
        except TransientFailure as exc:
            if not outcome_unknown:
                raise
            raise DeliveryUnknown(
                f"upload of '{name}' may have been stored and the folder could not be checked ({exc.message}): "
                "search for the name before uploading again", system=SYSTEM) from (cause or exc)

    def _uploaded(self, response: httpx.Response, folder: CleoFolder, name: str) -> CleoFile:
        try:
            return CleoFile.from_json(response.json())
        except (ValueError, AttributeError, DataFailure):
            # Created but not described: look it up rather than guess its links.
            found = self.find_file(folder, name)
            if found is None:
                raise DataFailure(f"Cleo answered {response.status_code} to the upload of '{name}' but does not "
                                  "list it", system=SYSTEM) from None
            return found

    # --- plumbing ----------------------------------------------------------------------------

    def _pace(self, method: str, path: str) -> None:
        self.limiter.acquire(self._bucket_prefix + paths.rate_limit_key(path), self.rate)

    def _slow_down(self, method: str, path: str, retry_after: float | None) -> None:
        """Cleo refused with 429: the path's shared bucket gives no slot to any worker until its
        Retry-After has passed (one interval when it names none)."""
        self.limiter.hold(self._bucket_prefix + paths.rate_limit_key(path),
                          retry_after if retry_after is not None else self.rate.interval)

    def _url(self, path: str) -> str:
        return self.connection.base_url.rstrip("/") + path

    def _resolve(self, href: str) -> str:
        """An absolute URL for a link, which must stay on the connection's host: the bearer
        token goes wherever the link points."""
        url = urljoin(self.connection.base_url, href)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise DataFailure(f"Cleo returned a link to another host ({parts.netloc}); not following it",
                              system=SYSTEM)
        return url

    def _send(self, method: str, href: str, *, resend_safe: bool | None = None,
              headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """One request with a bearer token; a 401 renews the token and tries once more."""
        url = self._resolve(href)
        token = self.session.bearer()
        response = self.http.request(method, url, resend_safe=resend_safe,
                                     headers={**(headers or {}), "Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code != 401:
            return response
        token = self.session.renew_after_401(token)
        response = self.http.request(method, url, resend_safe=resend_safe,
                                     headers={**(headers or {}), "Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401:
            raise ConfigFailure(
                f"Cleo refused a freshly issued token for {method} {urlsplit(url).path}: "
                f"{server_message(response)}", status=401, system=SYSTEM)
        return response

    def _collect(self, url: str, action: str, *, name_filter: str | None = None) -> list[dict[str, Any]]:
        """Every resource of a paged collection, each once (ids dedupe an overlapping page)."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        start = paths.FIRST_INDEX
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {paths.START_INDEX_PARAM: start, paths.COUNT_PARAM: paths.PAGE_SIZE}
            if name_filter is not None:
                params[paths.FILTER_PARAM] = paths.name_equals(name_filter)
            response = self._send("GET", url, params=params)
            if response.status_code == 400 and name_filter is not None and start == paths.FIRST_INDEX:
                # Filters are (seen), not (doc): a tenant that refuses one is read in full and
                # the callers match the name themselves.
                log.warning("Cleo refused the filter on %s (%s); listing everything", action, server_message(response))
                name_filter = None
                continue
            self._raise_for_status(response, action)
            body = response.json()
            if not isinstance(body, dict):
                raise DataFailure(f"Cleo answered a collection that is not an object to {action}", system=SYSTEM)
            page = body.get("resources") or []
            for item in page:
                key = item.get("id") if isinstance(item, dict) else None
                if key not in seen:
                    seen.add(key)
                    items.append(item)
            start += len(page)
            total = body.get("totalResults")
            if not page or (isinstance(total, int) and start >= total):
                return items
        raise DataFailure(f"Cleo kept paging past {MAX_PAGES} pages to {action}", system=SYSTEM)

    def _raise_for_status(self, response: httpx.Response, action: str) -> None:
        status = response.status_code
        if status < 400:
            return
        message = server_message(response)
        text = f"Cleo refused to {action} (HTTP {status})" + (f": {message}" if message else "")
        if status in (401, 403):
            raise ConfigFailure(text + f". Check what '{self.connection.username}' may do in Cleo.",
                                status=status, system=SYSTEM)
        if status == 404:
            raise CleoNotFound(text, status=status, system=SYSTEM)
        if status == 429 or status >= 500:
            raise TransientFailure(text, status=status, system=SYSTEM)
        raise DataFailure(text, status=status, system=SYSTEM)
