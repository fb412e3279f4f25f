"""A finance admin sets up a Stripe webhook endpoint and rolls its secret, in a real browser;
deliveries signed before and after the roll go to the URL the page shows."""
import urllib.error
import urllib.request

import pytest

from billing.models import WebhookDelivery
from tenants.models import Role
from tests.billing.conftest import OTHER_SECRET, SECRET, sent_tasks, signed_event  # noqa: F401 - a fixture
from tests.factories import make_tenant, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post(url: str, body: bytes, signature: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Stripe-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_finance_admin_adds_an_endpoint_pastes_its_url_and_rolls_the_secret(page, live_server, login, sent_tasks):  # noqa: F811
    make_user("fin", tenant=make_tenant("Alpha LLP", slug="alpha"), role=Role.FINANCE_ADMIN)
    login("fin")
    page.goto(f"{live_server.url}/admin/billing/webhookendpoint/add/")
    page.select_option("#id_tenant", label="Alpha LLP")
    page.fill("#id_description", "Live mode")
    page.fill("#id_first_secret", SECRET)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    url = page.inner_text("div.field-stripe_url div.readonly").strip()
    assert url.startswith(live_server.url + "/stripe/webhooks/") and SECRET not in page.content()

    body, signature = signed_event("evt_before_roll", SECRET)
    assert post(url, body, signature) == 200, "the URL on the page is the one Stripe must call"

    page.click(".object-tools a:has-text('Roll secret')")
    page.fill("#id_new_secret", OTHER_SECRET)
    page.select_option("#id_old_valid_for", label="no longer: expire them now")
    page.click("input[type=submit][value='Add the new secret']")
    page.wait_for_selector(".messagelist .success")
    html = page.content()
    assert SECRET not in html and OTHER_SECRET not in html and "expired" in html

    body, signature = signed_event("evt_after_roll_old", SECRET)
    assert post(url, body, signature) == 400
    body, signature = signed_event("evt_after_roll_new", OTHER_SECRET)
    assert post(url, body, signature) == 200
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "accepted", "signature_mismatch", "accepted"]
    assert len(sent_tasks) == 2, "both accepted events were handed to the engine (captured, not published)"
