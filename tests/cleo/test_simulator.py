"""The simulator keeps Cleo's contract (SYSTEMS.md), so the client's tests mean something."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import httpx
import pytest

from sandbox.cleo import (
    INBOUND_FOLDER,
    OUTBOUND_FOLDER,
    SERVICE_PASSWORD,
    SERVICE_USERNAME,
    CleoSimulator,
    create_app,
)

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox" / "cleo"


@pytest.fixture
def sim() -> CleoSimulator:
    return CleoSimulator(frozen_clock=True, rate_limit=None)


@pytest.fixture
def http(sim):
    with httpx.Client(base_url="http://cleo.test", transport=sim.transport()) as client:
        yield client


def login(http, username=SERVICE_USERNAME, password=SERVICE_PASSWORD) -> httpx.Response:
    return http.post("/api/authentication", data={"grant_type": "password", "username": username,
                                                   "password": password})


@pytest.fixture
def auth(http) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(http).json()['access_token']}"}


def folder(http, auth, name) -> dict:
    body = http.get("/api/folders", params={"filter": f'name eq "{name}"'}, headers=auth).json()
    return body["resources"][0]


def test_sandbox_imports_nothing_of_ours():
    for source in SANDBOX.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for name in names:
                assert name.split(".")[0] not in {"connector", "edi", "billing", "tenants", "django"}, source


def test_create_app_ignores_options_meant_for_other_simulators():
    assert isinstance(create_app(seed_size=50), CleoSimulator)


def test_password_grant_answers_a_bearer_token_with_refresh_and_lifetime(http):
    body = login(http).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"]


def test_collections_and_resources_have_the_scim_shape(http, auth, sim):
    outbound = folder(http, auth, OUTBOUND_FOLDER)
    assert len(outbound["id"]) == 22
    assert outbound["meta"]["resourceType"] == "Folder" and outbound["meta"]["created"].endswith("Z")
    created = http.post(outbound["_links"]["files"]["href"], params={"filename": "a.edi"}, content=b"abc",
                        headers=auth)
    assert created.status_code == 201
    assert created.headers["Location"] == created.json()["_links"]["self"]["href"]
    listing = http.get(outbound["_links"]["files"]["href"], params={"startIndex": 0, "count": 10},
                       headers=auth).json()
    assert listing["totalResults"] == 1 and listing["startIndex"] == 0 and listing["itemsPerPage"] == 1
    [file] = listing["resources"]
    assert file["meta"]["resourceType"] == "File" and file["size"] == 3 and len(file["id"]) == 22


def test_paging_and_filters(http, auth, sim):
    for n in range(7):
        sim.put_file(INBOUND_FOLDER, f"f{n}.edi", b"x")
    href = folder(http, auth, INBOUND_FOLDER)["_links"]["files"]["href"]
    page = http.get(href, params={"startIndex": 5, "count": 5}, headers=auth).json()
    assert page["totalResults"] == 7 and [f["name"] for f in page["resources"]] == ["f5.edi", "f6.edi"]
    assert [f["name"] for f in http.get(href, params={"filter": 'name sw "f1"'}, headers=auth).json()["resources"]] \
        == ["f1.edi"]
    bad = http.get(href, params={"filter": "size gt 3"}, headers=auth)
    assert bad.status_code == 400 and "Unsupported filter" in bad.json()["message"]


def test_errors_are_json_with_a_top_level_message(http, auth):
    missing = http.get("/api/folders/" + "x" * 22, headers=auth)
    assert missing.status_code == 404 and set(missing.json()) == {"message"}
    assert http.get("/api/folders").status_code == 401
    assert http.delete("/api/folders", headers=auth).status_code == 405


def test_delete_answers_204_and_upload_folders_refuse_downloads(http, auth, sim):
    sim.put_file(INBOUND_FOLDER, "in.edi", b"x")
    sim.put_file(OUTBOUND_FOLDER, "out.edi", b"x")
    inbound = http.get(folder(http, auth, INBOUND_FOLDER)["_links"]["files"]["href"], headers=auth).json()
    outbound = http.get(folder(http, auth, OUTBOUND_FOLDER)["_links"]["files"]["href"], headers=auth).json()
    assert http.delete(inbound["resources"][0]["_links"]["self"]["href"], headers=auth).status_code == 204
    assert "content" not in outbound["resources"][0]["_links"]
    assert http.delete(outbound["resources"][0]["_links"]["self"]["href"], headers=auth).status_code == 403


def test_tokens_expire_on_the_simulated_clock_and_refresh_tokens_rotate(http, sim):
    tokens = login(http).json()
    sim.advance(3601)
    expired = http.get("/api/folders", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert http.post("/api/authentication", data=form).status_code == 200
    assert http.post("/api/authentication", data=form).status_code == 401  # used once


def test_the_per_path_limit_answers_429_with_retry_after(http, auth, sim):
    sim.set_rate_limit(5)
    statuses = [http.get("/api/folders", headers=auth).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = http.get("/api/folders", headers=auth)
    assert refused.headers["Retry-After"] == "1" and "at most 5 per second" in refused.json()["message"]
    assert http.post("/api/authentication", data={}).status_code == 400  # another path, its own budget
    sim.advance(1.0)
    assert http.get("/api/folders", headers=auth).status_code == 200
    assert sim.rejected(path_contains="/api/folders") == 2


def test_token_bucket_mode_allows_a_burst_then_refills(http, auth, sim):
    sim.set_rate_limit(5, "token_bucket")
    assert [http.get("/api/folders", headers=auth).status_code for _ in range(6)] == [200] * 5 + [429]
    sim.advance(0.2)
    assert http.get("/api/folders", headers=auth).status_code == 200


@pytest.mark.parametrize(("fault", "error"), [("drop", httpx.RemoteProtocolError), ("timeout", httpx.ReadTimeout)])
def test_lost_answers_surface_as_the_httpx_errors_of_a_real_socket(http, auth, sim, fault, error):
    sim.fail_next(fault, method="GET", path_contains="/api/folders")
    with pytest.raises(error):
        http.get("/api/folders", headers=auth)
    assert sim.calls[-1].status is None and fault in sim.calls[-1].outcome
    assert http.get("/api/folders", headers=auth).status_code == 200  # armed for one request only


def test_the_inspection_api_over_http(http, sim):
    created = http.post(f"/_sandbox/folders/{INBOUND_FOLDER}/files", params={"filename": "seeded.edi"}, content=b"x")
    assert created.status_code == 201
    assert http.post("/_sandbox/faults", content=json.dumps({"kind": "500", "method": "GET"})).status_code == 201
    state = http.get("/_sandbox/state").json()
    inbound = next(f for f in state["tenants"][0]["folders"] if f["name"] == INBOUND_FOLDER)
    assert [f["name"] for f in inbound["files"]] == ["seeded.edi"]
    assert sim.file_names(INBOUND_FOLDER) == ["seeded.edi"]
    assert http.get("/api/folders").status_code == 500  # the armed fault


def test_tenants_are_told_apart_by_host():
    sim = CleoSimulator(rate_limit=None)
    sim.add_tenant("globex", host="globex.cleo.test")
    sim.add_user("svc-globex", "pw", tenant="globex")
    sim.add_folder("Globex Out", "upload", tenant="globex")
    with httpx.Client(base_url="http://globex.cleo.test", transport=sim.transport()) as http:
        assert login(http, SERVICE_USERNAME).status_code == 401  # acme's user is unknown here
        token = login(http, "svc-globex", "pw").json()["access_token"]
        names = [f["name"] for f in http.get("/api/folders", headers={"Authorization": f"Bearer {token}"})
                 .json()["resources"]]
    assert names == ["Globex Out"]
