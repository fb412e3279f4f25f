"""AP voucher and cash receipt batches: create, post, and never post twice.

Vantagepoint has no idempotency key, so posting is made safe by three habits:
1. the batch name is derived from the business document (`batch_name`), so every retry
   of one document uses the same name, and Vantagepoint refuses a second batch of that
   name ("already exists"), which makes the create step repeatable;
2. before anything, the ledger is searched for rows of that batch: a batch already posted
   is reported as such (`PostingResult.already_posted`), never entered again;
3. PostTransFile is sent once (not resent by the HTTP policy): when its answer is lost (a
   dropped connection, a 5xx, a reply we cannot read), the ledger is looked at again to
   learn whether it posted; if not, a TransientFailure lets the engine retry the whole
   step later, which starts again at 2.

PostTransFile answers a JSON string holding pipe-separated lists (`postseqList` ...); the
reply is parsed defensively: every odd shape becomes a clear failure, never an IndexError.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from connector.failures import DataFailure, TransientFailure

from . import endpoints
from .query import Condition, filter_params, order_param
from .records import SYSTEM, format_datetime, integer, text
from .session import RecordNotFound, VantagepointSession

CENT = Decimal("0.01")
BATCH_NAME_MAX = 32
# Words of Vantagepoint's refusals that mean "this already happened" (assumed wording).
ALREADY_EXISTS = re.compile(r"already exists", re.I)
ALREADY_POSTED = re.compile(r"already (been )?posted", re.I)
# PostTransFile answered 5xx and the ledger then showed the batch not posted: the batch waits
# in data entry, so a retry this soon is safe (it looks at the ledger first again).
POST_RETRY_SECONDS = 10.0


def batch_name(prefix: str, document_key: str) -> str:
    """A deterministic batch name for one business document: the same on every retry."""
    digest = hashlib.sha256(document_key.encode()).hexdigest()[:16].upper()
    return f"{prefix}{digest}"[:BATCH_NAME_MAX]


def _cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT)


def _wbs(value: str) -> str:
    return value.strip() or " "


# -- what the flows hand over -----------------------------------------------------------------
@dataclass(frozen=True)
class APVoucherLine:
    wbs1: str
    account: str
    amount: Decimal
    wbs2: str = ""
    wbs3: str = ""
    description: str = ""
    po_number: str = ""


@dataclass(frozen=True)
class APVoucher:
    vendor: str
    invoice: str  # the vendor's own invoice number
    invoice_date: date
    lines: tuple[APVoucherLine, ...]
    trans_date: date | None = None  # default: the invoice date
    voucher: str = ""  # blank: Vantagepoint numbers it
    pay_terms: str = ""
    pay_date: date | None = None
    liability_code: str = ""  # blank: the connection's
    bank_code: str = ""  # blank: the connection's


@dataclass(frozen=True)
class APVoucherBatch:
    name: str
    period: int
    vouchers: tuple[APVoucher, ...]
    description: str = ""


@dataclass(frozen=True)
class CashReceiptLine:
    wbs1: str
    invoice: str
    amount: Decimal
    wbs2: str = ""
    wbs3: str = ""
    account: str = ""  # blank: the connection's AR account
    description: str = ""


@dataclass(frozen=True)
class CashReceiptEntry:
    ref_no: str
    trans_date: date
    lines: tuple[CashReceiptLine, ...]
    bank_code: str = ""  # blank: the connection's
    description: str = ""


@dataclass(frozen=True)
class CashReceiptBatch:
    name: str
    period: int
    receipts: tuple[CashReceiptEntry, ...]
    description: str = ""


@dataclass(frozen=True)
class PostingResult:
    batch: str
    transtype: str  # "AP" or "CR"
    period: int
    post_seqs: tuple[int, ...]
    already_posted: bool = False  # found in the ledger: an earlier attempt had posted it
    vouchers: tuple[str, ...] = field(default=())


# -- payloads -----------------------------------------------------------------------------------
def ap_batch_payload(batch: APVoucherBatch, *, liability_code: str, bank_code: str) -> dict[str, Any]:
    masters = []
    for v in batch.vouchers:
        master: dict[str, Any] = {
            "Vendor": v.vendor, "Invoice": v.invoice, "InvoiceDate": format_datetime(v.invoice_date),
            "TransDate": format_datetime(v.trans_date or v.invoice_date),
            "LiabCode": v.liability_code or liability_code,
            "apDetail": [{"WBS1": line.wbs1, "WBS2": _wbs(line.wbs2), "WBS3": _wbs(line.wbs3),
                          "Account": line.account, "Amount": _cents(line.amount),
                          "Description": line.description, "PONumber": line.po_number} for line in v.lines],
        }
        if v.voucher:
            master["Voucher"] = v.voucher
        if v.pay_terms:
            master["PayTerms"] = v.pay_terms
        if v.pay_date:
            master["PayDate"] = format_datetime(v.pay_date)
        if v.bank_code or bank_code:
            master["BankCode"] = v.bank_code or bank_code
        masters.append(master)
    total = sum((_cents(line.amount) for v in batch.vouchers for line in v.lines), Decimal("0"))
    return {"Batch": batch.name, "Period": batch.period, "Total": total, "Description": batch.description,
            "apMaster": masters}


def cr_batch_payload(batch: CashReceiptBatch, *, ar_account: str, bank_code: str) -> dict[str, Any]:
    masters = [{
        "RefNo": r.ref_no, "TransDate": format_datetime(r.trans_date), "BankCode": r.bank_code or bank_code,
        "Description": r.description,
        "crDetail": [{"WBS1": line.wbs1, "WBS2": _wbs(line.wbs2), "WBS3": _wbs(line.wbs3), "Invoice": line.invoice,
                      "Account": line.account or ar_account, "Amount": _cents(line.amount),
                      "Description": line.description} for line in r.lines],
    } for r in batch.receipts]
    total = sum((_cents(line.amount) for r in batch.receipts for line in r.lines), Decimal("0"))
    return {"Batch": batch.name, "Period": batch.period, "Total": total, "Description": batch.description,
            "crMaster": masters}


# -- the PostTransFile reply --------------------------------------------------------------------
@dataclass(frozen=True)
class PostReply:
    post_seqs: tuple[int, ...]
    batches: tuple[str, ...]
    periods: tuple[int, ...]
    vouchers: tuple[str, ...]
    errors: tuple[str, ...]


class UnreadablePostReply(DataFailure):
    """PostTransFile answered something we cannot read: whether it posted is unknown."""


def _pipe_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value).split("|") if part.strip())


def parse_post_reply(payload: Any) -> PostReply:
    """The reply is a JSON string whose text is a JSON object of pipe-separated lists."""
    shown = repr(payload)[:160]
    for _ in range(2):  # a string holding JSON, possibly itself a string: unwrap at most twice
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                raise UnreadablePostReply(f"PostTransFile replied {shown}: not the expected lists",
                                          system=SYSTEM) from None
    if not isinstance(payload, dict):
        raise UnreadablePostReply(f"PostTransFile replied {shown}: not the expected lists", system=SYSTEM)
    lists = {str(k).lower(): _pipe_list(v) for k, v in payload.items()}
    try:
        post_seqs = tuple(int(v) for v in lists.get("postseqlist", ()))
        periods = tuple(int(v) for v in lists.get("periodlist", ()))
    except ValueError:
        raise UnreadablePostReply(f"PostTransFile replied {shown}: a posting sequence is not a number",
                                  system=SYSTEM) from None
    return PostReply(post_seqs, lists.get("batchlist", ()), periods, lists.get("voucherlist", ()),
                     lists.get("errorlist", ()))


# -- the posting protocol -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    transtype: str
    batch_path: str
    ledger_path: str
    masters: str
    identity: tuple[str, ...]  # master fields that say "this is the same document"


AP = _Kind("AP", endpoints.AP_BATCH, endpoints.AP_LEDGER, "apMaster", ("Vendor", "Invoice"))
CR = _Kind("CR", endpoints.CASH_RECEIPT_BATCH, endpoints.CASH_RECEIPT_LEDGER, "crMaster", ("RefNo",))


def _identities(masters: list[dict[str, Any]], kind: _Kind) -> list[tuple[str, ...]]:
    return sorted(tuple(text(m, f).lower() for f in kind.identity) for m in masters)


def posted_rows(session: VantagepointSession, kind: _Kind, batch: str) -> list[dict[str, Any]]:
    params = filter_params([Condition("Batch", batch)]) + order_param("PostSeq", "PKey")
    return session.rows(kind.ledger_path, params)


def _result_from_ledger(kind: _Kind, batch: str, rows: list[dict[str, Any]]) -> PostingResult:
    seqs = tuple(sorted({integer(r, "PostSeq") for r in rows}))
    vouchers = tuple(dict.fromkeys(text(r, "Voucher") for r in rows if text(r, "Voucher")))
    return PostingResult(batch, kind.transtype, integer(rows[0], "Period"), seqs, already_posted=True,
                         vouchers=vouchers)


def posted_batch(session: VantagepointSession, kind: _Kind, name: str) -> PostingResult | None:
    """The batch as the ledger holds it once posted, or None: the look before a repost."""
    rows = posted_rows(session, kind, name)
    return _result_from_ledger(kind, name, rows) if rows else None


def _from_ledger_or_raise(session: VantagepointSession, kind: _Kind, name: str,
                          failure: Exception, *, proved_safe: bool = False) -> PostingResult:
    """The answer to PostTransFile is lost or unclear: the ledger says whether it posted.
    `proved_safe`: Vantagepoint answered (a 5xx), so a ledger without the batch proves it did
    not post and the failure asks to be retried in seconds rather than on the schedule."""
    rows = posted_rows(session, kind, name)
    if rows:
        return _result_from_ledger(kind, name, rows)
    if proved_safe and isinstance(failure, TransientFailure):
        failure.retry_in = POST_RETRY_SECONDS
    raise failure


def post_batch(session: VantagepointSession, kind: _Kind, payload: dict[str, Any], *, description: str,
               client_company: str) -> PostingResult:
    name, period = payload["Batch"], payload["Period"]
    rows = posted_rows(session, kind, name) or _create(session, kind, payload)
    if rows:
        return _result_from_ledger(kind, name, rows)
    parms = {"batch": name, "clientcompany": client_company, "period": period, "transtype": kind.transtype,
             "description": description}
    try:
        # Never resent by the policy: a second PostTransFile must follow a look at the ledger.
        response = session.send("PUT", endpoints.POST_TRANS_FILE, body={"parms": parms}, resend_safe=False)
    except TransientFailure as exc:  # DeliveryUnknown included: it may have posted
        return _from_ledger_or_raise(session, kind, name, exc)
    if not response.is_success:
        failure = session.failure_for(response, "PUT", endpoints.POST_TRANS_FILE)
        if isinstance(failure, TransientFailure) or ALREADY_POSTED.search(failure.message):
            return _from_ledger_or_raise(session, kind, name, failure, proved_safe=response.status_code >= 500)
        raise failure
    try:
        reply = parse_post_reply(session.decode(response, "PUT", endpoints.POST_TRANS_FILE))
    except DataFailure as exc:  # not JSON, or not the lists
        unreadable = UnreadablePostReply(exc.message, status=response.status_code, system=SYSTEM)
        return _from_ledger_or_raise(session, kind, name, unreadable)
    if reply.errors:
        raise DataFailure(f"PostTransFile did not post batch {name}: {'; '.join(reply.errors)[:300]}",
                          system=SYSTEM)
    if not reply.post_seqs:
        unreadable = UnreadablePostReply(f"PostTransFile named no posting sequence for batch {name}", system=SYSTEM)
        return _from_ledger_or_raise(session, kind, name, unreadable)
    return PostingResult(name, kind.transtype, period, reply.post_seqs, vouchers=reply.vouchers)


def _create(session: VantagepointSession, kind: _Kind, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Create the batch unless it exists; the ledger rows if it turns out to be posted already.

    Resending is safe (a second create of the same name is refused), so the HTTP policy may
    retry it; "already exists" means an earlier attempt got through, and the batch found
    must be ours."""
    name = payload["Batch"]
    response = session.send("POST", kind.batch_path, body=payload, resend_safe=True)
    if response.is_success:
        return []
    failure = session.failure_for(response, "POST", kind.batch_path)
    if not ALREADY_EXISTS.search(failure.message) or name.lower() not in failure.message.lower():
        raise failure
    try:
        existing = session.rows(endpoints.unposted_batch(kind.batch_path, name), collection=False)
    except RecordNotFound:
        existing = []
    if not existing:
        # Not in data entry: posted meanwhile (by a concurrent attempt), or the name is taken.
        rows = posted_rows(session, kind, name)
        if rows:
            return rows
        raise DataFailure(f"batch name {name} is already used in Vantagepoint by something we cannot see",
                          system=SYSTEM)
    found = existing[0].get(kind.masters) or []
    if _identities(found, kind) != _identities(payload[kind.masters], kind):
        raise DataFailure(f"batch {name} exists in Vantagepoint with other documents: it is not ours to post",
                          system=SYSTEM)
    return []
