"""Stripe events as Stripe sends them (API 2025-03-31.basil shapes, pretty-printed JSON like
the real deliveries), and signatures computed here with hmac, independently of billing's check."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

API_VERSION = "2025-03-31.basil"


def invoice_paid_event(event_id: str, *, invoice_id: str = "in_1QvVpR2eZvKYlo2C0aB1cD2e", amount: int = 125000,
                       created: int | None = None, event_type: str = "invoice.paid") -> dict[str, Any]:
    created = created or int(time.time())
    return {
        "id": event_id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": {
            "id": invoice_id, "object": "invoice", "account_country": "US", "account_name": "Morrison Lane LLP",
            "amount_due": amount, "amount_paid": amount, "amount_remaining": 0, "amount_shipping": 0,
            "attempt_count": 1, "attempted": True, "auto_advance": False, "automatic_tax": {"enabled": False},
            "billing_reason": "manual", "collection_method": "send_invoice", "created": created - 86400,
            "currency": "usd", "customer": "cus_RoXq2b1Zc7nD4e", "customer_email": "ap@client-firm.example",
            "customer_name": "Client Firm Inc.", "description": "Professional services, project 2024-017",
            "due_date": created + 30 * 86400, "ending_balance": 0, "hosted_invoice_url": None,
            "lines": {"object": "list", "data": [{
                "id": "il_1QvVpR2eZvKYlo2CxYz12345", "object": "line_item", "amount": amount, "currency": "usd",
                "description": "Design phase: 100 hours", "period": {"end": created, "start": created},
                "pricing": {"type": "price_details", "unit_amount_decimal": str(amount)}, "quantity": 1,
            }], "has_more": False, "total_count": 1, "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False,
            "metadata": {"vp_invoice": "0001234", "vp_wbs1": "2024-017", "vp_company": "01", "ml_connector": "ar-stripe"},
            "number": "MLC-0001234", "parent": None, "period_end": created, "period_start": created,
            "status": "paid", "status_transitions": {"finalized_at": created - 86000, "paid_at": created},
            "subtotal": amount, "total": amount, "total_excluding_tax": amount, "total_taxes": [],
        }},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def event_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def signature_header(body: bytes, *secrets: str, timestamp: int | None = None) -> str:
    """`t=…,v1=…[,v1=…]`: one v1 per secret, as Stripe sends while a secret is rolled."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    return ",".join([f"t={timestamp}", *(f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}"
                                         for s in secrets)])
