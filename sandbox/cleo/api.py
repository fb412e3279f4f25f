"""The Cleo REST endpoints the simulator answers, as far as SYSTEMS.md knows them.

Every handler is `(sim, request, **path_parts) -> Response` and runs under the simulator's
lock. Shapes follow the contract: SCIM-style collections (`startIndex` from 0, `count`,
`filter`, `totalResults`, `resources`), 22-character ids, `meta.resourceType`,
`meta.created`, `_links.<rel>.href` as absolute URLs, errors as `{"message": ...}`, create
201, delete 204.

Folder permissions are seen from the API user's side: an `upload` folder takes files we
send to the partner (list and upload only); a `download` folder holds files the partner
sent us (list, download, delete, move to another download folder). Moving is an
assumption: each file in a download folder carries `_links.move.href`, a POST with
`{"folderId": ...}` that answers 200 with the moved file.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .state import DOWNLOAD, FILTER_OPS, UPLOAD, Folder, StoredFile, Token, User, isoformat, parse_filter
from .web import HttpError, Request, Response, Router, json_response

if TYPE_CHECKING:
    from .app import CleoSimulator

MAX_PAGE_SIZE = 1000
TOTP_MESSAGE = (
    "Two-factor authentication (TOTP) is enabled for user '{username}'; the password grant cannot "
    "complete it. Use an account without two-factor authentication for API access."
)
SSO_MESSAGE = (
    "User '{username}' signs in through single sign-on (SSO); password authentication is not "
    "available for this user."
)


def build_router() -> Router:
    router = Router()
    router.add("POST", "/api/authentication", authenticate)
    router.add("GET", "/api/folders", list_folders)
    router.add("GET", "/api/folders/{folder_id}", get_folder)
    router.add("GET", "/api/folders/{folder_id}/files", list_files)
    router.add("POST", "/api/folders/{folder_id}/files", upload_file)
    router.add("GET", "/api/files/{file_id}", get_file)
    router.add("DELETE", "/api/files/{file_id}", delete_file)
    router.add("GET", "/api/files/{file_id}/content", download_file)
    router.add("POST", "/api/files/{file_id}/move", move_file)
    return router


# --- authentication -------------------------------------------------------------------------

def authenticate(sim: CleoSimulator, request: Request) -> Response:
    form = request.form()
    grant = form.get("grant_type", "")
    if grant == "password":
        user = _password_user(sim, request, form.get("username", ""), form.get("password", ""))
    elif grant == "refresh_token":
        user = _refresh_user(sim, form.get("refresh_token", ""))
    else:
        raise HttpError(400, f"Unsupported grant_type '{grant}'. Use 'password' or 'refresh_token'.")
    access = sim.issue_token(user, "access")
    refresh = sim.issue_token(user, "refresh")
    return json_response({
        "access_token": access.value,
        "token_type": "Bearer",
        "expires_in": int(sim.token_lifetime),
        "refresh_token": refresh.value,
    })


def _password_user(sim: CleoSimulator, request: Request, username: str, password: str) -> User:
    tenant = sim.tenant_for_host(request.host)
    user = tenant.users.get(username)
    if user is not None and user.sso:
        raise HttpError(403, SSO_MESSAGE.format(username=username))
    if user is None or user.password is None or user.password != password:
        raise HttpError(401, "Invalid username or password.")
    if user.totp:
        raise HttpError(403, TOTP_MESSAGE.format(username=username))
    return user


def _refresh_user(sim: CleoSimulator, value: str) -> User:
    token = sim.tokens.get(value)
    if token is None or token.kind != "refresh" or token.revoked or token.expires_at <= sim.clock.now():
        raise HttpError(401, "The refresh token is invalid or has expired.")
    token.revoked = True  # refresh tokens rotate: each one works once
    return sim.tenants[token.tenant].users[token.username]


def authenticated_user(sim: CleoSimulator, request: Request) -> User:
    value = request.bearer_token()
    if value is None:
        raise HttpError(401, "Authentication required: send Authorization: Bearer <access_token>.")
    token: Token | None = sim.tokens.get(value)
    if token is None or token.kind != "access" or token.revoked:
        raise HttpError(401, "The access token is invalid.")
    if token.expires_at <= sim.clock.now():
        raise HttpError(401, "The access token has expired.")
    return sim.tenants[token.tenant].users[token.username]


# --- representations ------------------------------------------------------------------------

def folder_json(folder: Folder, base: str) -> dict[str, Any]:
    href = f"{base}/api/folders/{folder.id}"
    return {
        "id": folder.id,
        "name": folder.name,
        "type": folder.permission.capitalize(),
        "meta": {"resourceType": "Folder", "created": isoformat(folder.created),
                 "lastModified": isoformat(folder.created)},
        "_links": {"self": {"href": href}, "files": {"href": f"{href}/files"}},
    }


def file_json(sim: CleoSimulator, stored: StoredFile, base: str) -> dict[str, Any]:
    href = f"{base}/api/files/{stored.id}"
    links = {
        "self": {"href": href},
        "folder": {"href": f"{base}/api/folders/{stored.folder_id}"},
    }
    if sim.folder_by_id(stored.folder_id).permission == DOWNLOAD:
        links["content"] = {"href": f"{href}/content"}
        links["move"] = {"href": f"{href}/move"}
    return {
        "id": stored.id,
        "name": stored.name,
        "size": stored.size,
        "meta": {"resourceType": "File", "created": isoformat(stored.created),
                 "lastModified": isoformat(stored.modified or stored.created)},
        "_links": links,
    }


def collection(request: Request, items: list[Any], attributes: tuple[str, ...],
               render: Any) -> Response:
    """Filter, then page: `startIndex` counts from 0 as Cleo's collections do."""
    text = request.query.get("filter")
    if text:
        parsed = parse_filter(text, attributes)
        if parsed is None:
            raise HttpError(400, f"Unsupported filter '{text}'. Supported: {', '.join(attributes)} "
                                 'with eq, ne, co, sw or ew and a quoted value, e.g. name eq "x".')
        attribute, op, wanted = parsed
        items = [item for item in items if FILTER_OPS[op](str(getattr(item, attribute)), wanted)]
    try:
        start = int(request.query.get("startIndex", "0"))
        count = int(request.query.get("count", "100"))
    except ValueError:
        raise HttpError(400, "startIndex and count must be integers.") from None
    if start < 0 or count < 0:
        raise HttpError(400, "startIndex and count must not be negative.")
    page = items[start:start + min(count, MAX_PAGE_SIZE)]
    return json_response({
        "totalResults": len(items),
        "startIndex": start,
        "itemsPerPage": len(page),
        "resources": [render(item) for item in page],
    })


# --- folders and files ----------------------------------------------------------------------

def list_folders(sim: CleoSimulator, request: Request) -> Response:
    user = authenticated_user(sim, request)
    folders = sorted(sim.tenants[user.tenant].folders.values(), key=lambda f: f.created)  # stable: ties keep creation order
    return collection(request, folders, ("name", "id"), lambda f: folder_json(f, request.base_url))


def _folder(sim: CleoSimulator, user: User, folder_id: str) -> Folder:
    folder = sim.tenants[user.tenant].folders.get(folder_id)
    if folder is None:
        raise HttpError(404, f"Folder '{folder_id}' not found.")
    return folder


def get_folder(sim: CleoSimulator, request: Request, folder_id: str) -> Response:
    folder = _folder(sim, authenticated_user(sim, request), folder_id)
    return json_response(folder_json(folder, request.base_url))


def list_files(sim: CleoSimulator, request: Request, folder_id: str) -> Response:
    folder = _folder(sim, authenticated_user(sim, request), folder_id)
    return collection(request, sim.files_in(folder), ("name", "id"),
                      lambda f: file_json(sim, f, request.base_url))


def upload_file(sim: CleoSimulator, request: Request, folder_id: str) -> Response:
    folder = _folder(sim, authenticated_user(sim, request), folder_id)
    if folder.permission != UPLOAD:
        raise HttpError(403, f"Folder '{folder.name}' is a Download folder: files cannot be uploaded to it.")
    name = request.query.get("filename", "").strip()
    if not name or "/" in name or "\\" in name:
        raise HttpError(400, "Query parameter 'filename' is required and must not contain a path.")
    # No idempotency key: the same name again is simply a second file, as at the real Cleo.
    stored = sim.store_file(folder, name, request.body)
    body = file_json(sim, stored, request.base_url)
    return json_response(body, 201, {"Location": body["_links"]["self"]["href"]})


def _file(sim: CleoSimulator, user: User, file_id: str) -> tuple[StoredFile, Folder]:
    stored = sim.stored_files.get(file_id)
    folder = sim.folder_by_id(stored.folder_id) if stored else None
    if stored is None or folder is None or folder.tenant != user.tenant:
        raise HttpError(404, f"File '{file_id}' not found.")
    return stored, folder


def _require_download(folder: Folder, action: str) -> None:
    if folder.permission != DOWNLOAD:
        raise HttpError(403, f"Folder '{folder.name}' is an Upload folder: files in it cannot be {action}.")


def get_file(sim: CleoSimulator, request: Request, file_id: str) -> Response:
    stored, _ = _file(sim, authenticated_user(sim, request), file_id)
    return json_response(file_json(sim, stored, request.base_url))


def download_file(sim: CleoSimulator, request: Request, file_id: str) -> Response:
    stored, folder = _file(sim, authenticated_user(sim, request), file_id)
    _require_download(folder, "downloaded")
    return Response(200, stored.content, {"Content-Type": "application/octet-stream",
                                          "Content-Disposition": f'attachment; filename="{stored.name}"'})


def delete_file(sim: CleoSimulator, request: Request, file_id: str) -> Response:
    stored, folder = _file(sim, authenticated_user(sim, request), file_id)
    _require_download(folder, "deleted")
    del sim.stored_files[stored.id]
    return Response(204)


def move_file(sim: CleoSimulator, request: Request, file_id: str) -> Response:
    user = authenticated_user(sim, request)
    stored, folder = _file(sim, user, file_id)
    _require_download(folder, "moved")
    body = request.json()
    target_id = body.get("folderId") if isinstance(body, dict) else None
    if not target_id:
        raise HttpError(400, "Body must be JSON with 'folderId', the id of the destination folder.")
    target = sim.tenants[user.tenant].folders.get(target_id)
    if target is None:
        raise HttpError(404, f"Folder '{target_id}' not found.")
    if target.permission != DOWNLOAD:
        raise HttpError(403, f"Folder '{target.name}' is an Upload folder: files cannot be moved into it.")
    stored.folder_id = target.id
    stored.modified = sim.clock.now()
    return json_response(file_json(sim, stored, request.base_url))
