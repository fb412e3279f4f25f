"""Raw HTTP helpers for simulator tests: they talk to the simulator without our client, so
a strictness test checks the simulator alone."""
from __future__ import annotations

from typing import Any

import httpx

from sandbox.vantagepoint import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_DATABASE,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
)

BASE = "http://vp.test/Sandbox/api"


def password_form(**overrides: str) -> dict[str, str]:
    form = {"Username": SANDBOX_USERNAME, "Password": SANDBOX_PASSWORD, "grant_type": "password",
            "Integrated": "N", "database": SANDBOX_DATABASE, "Client_Id": SANDBOX_CLIENT_ID,
            "client_secret": SANDBOX_CLIENT_SECRET}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


class Raw:
    """An httpx client on the simulator, logged in unless told otherwise."""

    def __init__(self, app: Any, *, login: bool = True, **form: str) -> None:
        self.http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE)
        self.token = ""
        self.refresh_token = ""
        if login:
            reply = self.http.post("/token", data=password_form(**form))
            assert reply.status_code == 200, reply.text
            self.token, self.refresh_token = reply.json()["access_token"], reply.json()["refresh_token"]

    def get(self, path: str, params: Any = None) -> httpx.Response:
        return self.http.get(path, params=params, headers={"Authorization": f"Bearer {self.token}"})

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers={"Authorization": f"Bearer {self.token}"})

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.http.put(path, json=body, headers={"Authorization": f"Bearer {self.token}"})


def filters(*clauses: tuple[str, str, str]) -> list[tuple[str, str]]:
    params = []
    for i, (name, op, value) in enumerate(clauses):
        params += [(f"filterHash[{i}][name]", name), (f"filterHash[{i}][opp]", op), (f"filterHash[{i}][value]", value)]
    return params


def ap_batch(name: str = "TESTAP01", *, period: int = 202406, vendor: str = "V90001", wbs1: str = "2023001.00",
             wbs2: str = " ", wbs3: str = " ", account: str = "5010.00", amount: float = 250.0,
             total: float | None = None, invoice: str = "VI-1") -> dict[str, Any]:
    return {
        "Batch": name, "Period": period, "Total": amount if total is None else total, "Description": "test",
        "apMaster": [{
            "Vendor": vendor, "Invoice": invoice, "InvoiceDate": "2024-06-10T00:00:00.000",
            "TransDate": "2024-06-10T00:00:00.000", "LiabCode": "AP", "BankCode": "OPER",
            "apDetail": [{"WBS1": wbs1, "WBS2": wbs2, "WBS3": wbs3, "Account": account, "Amount": amount,
                          "Description": "consulting"}],
        }],
    }


def post_parms(batch: str = "TESTAP01", *, period: int = 202406, transtype: str = "AP") -> dict[str, Any]:
    return {"parms": {"batch": batch, "clientcompany": "", "period": period, "transtype": transtype,
                      "description": "test posting"}}
