"""The webhook URL as gunicorn serves it (connector/wsgi.py's application): its own short
middleware list, while every other URL keeps the project's full one."""
from __future__ import annotations

import httpx
import pytest
from django.core.wsgi import get_wsgi_application

from billing.models import DeliveryOutcome, WebhookDelivery
from connector.handlers import lean_application

from .conftest import signed_event, webhook_url


@pytest.mark.django_db(transaction=True)
def test_the_webhook_url_skips_session_csrf_auth_and_framing_middleware_and_other_urls_keep_them(endpoint):
    client = httpx.Client(transport=httpx.WSGITransport(app=lean_application(get_wsgi_application())),
                          base_url="http://127.0.0.1")
    body, signature = signed_event("evt_through_the_lean_handler")
    response = client.post(webhook_url(endpoint), content=body,
                           headers={"Stripe-Signature": signature, "Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "accepted"
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.ACCEPTED
    # Security middleware still runs (its headers); clickjacking's and the session's did not.
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in response.headers and "Cookie" not in response.headers.get("Vary", "")

    page = client.get("/admin/login/")
    assert page.status_code == 200 and page.headers["X-Frame-Options"] == "DENY"
    assert "csrftoken" in page.headers.get("set-cookie", ""), "the full stack: CSRF middleware set its cookie"
