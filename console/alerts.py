"""Alerts: tell a tenant's people when something breaks or goes quiet, once, and when it is
over.

Each pass (console.tasks.triage, after grouping) works out the conditions true now for every
tenant with alerts on: a failure group open (a new problem), a group at or past the growth
threshold, a flow with no successful cycle or no document for longer than its silence rule
allows (a quiet cycle, one that found nothing and so keeps no run, is a successful cycle;
"no document" still fires for it). A condition not yet firing opens an Alert and sends it;
a firing one that is no longer true is resolved and sends a resolved notice (when its
opening was sent). So each problem makes two messages however many passes see it.

Throttled twice: a condition that fired and was notified within the tenant's throttle
window is opened again silently (a flapping flow does not page every few minutes), and past
`max_notices_per_hour` notices in the last hour, alerts are recorded but not sent. Every
notice sent, on each channel, is an AlertDelivery (the admin lists them).

Transient failure groups (documents retrying on their own) raise no "new group" alert; they
alert when they grow past the threshold. `now` is a parameter everywhere, so tests run on a
simulated clock.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from connector.failures import FailureKind, IntegrationFailure
from connector.flows import all_flows
from connector.http import HttpPolicy, PolicyClient
from connector.logs import bound, get_logger
from connector.models import Document
from connector.sync import sync_last_success

from .models import (
    Alert,
    AlertDelivery,
    AlertKind,
    AlertSettings,
    AlertStatus,
    DeliveryChannel,
    FailureGroup,
    GroupKind,
    GroupStatus,
    SilenceRule,
)
from .zones import local_time

log = get_logger(__name__)


class WebhookFailed(Exception):
    """The webhook did not take the alert; the message never contains its URL's path."""


# A chat webhook is not worth a worker's minutes: a short timeout, few tries.
WEBHOOK_POLICY = HttpPolicy(read_timeout=10.0, max_attempts=3, backoff_cap=5.0, retry_after_cap=10.0)


@dataclass(frozen=True)
class Condition:
    key: str
    kind: str
    title: str
    body: str
    group_id: int | None = None
    flow: str = ""


@dataclass
class AlertReport:
    opened: int = 0
    resolved: int = 0
    sent: int = 0
    throttled: int = 0


def alerts_evaluate(*, now: datetime | None = None) -> AlertReport:
    """One pass over every tenant with alerts on."""
    now = now or timezone.now()
    report = AlertReport()
    for alert_settings in AlertSettings.objects.filter(enabled=True, tenant__active=True).select_related("tenant"):
        with bound(tenant_id=alert_settings.tenant_id):
            tenant_alerts_evaluate(alert_settings=alert_settings, now=now, report=report)
    return report


def tenant_alerts_evaluate(*, alert_settings: AlertSettings, now: datetime, report: AlertReport | None = None) -> AlertReport:
    report = report or AlertReport()
    tenant = alert_settings.tenant
    conditions = {c.key: c for c in conditions_now(alert_settings=alert_settings, now=now)}
    firing = {a.key: a for a in Alert.objects.filter(tenant=tenant, status=AlertStatus.FIRING)}
    for key, condition in conditions.items():
        if key not in firing:
            alert_open(alert_settings=alert_settings, condition=condition, now=now, report=report)
    for key, alert in firing.items():
        if key not in conditions:
            alert_resolve(alert_settings=alert_settings, alert=alert, now=now, report=report)
    return report


def conditions_now(*, alert_settings: AlertSettings, now: datetime) -> list[Condition]:
    tenant = alert_settings.tenant
    zone_name = tenant.time_zone
    found: list[Condition] = []
    for group in FailureGroup.objects.filter(tenant=tenant, status=GroupStatus.OPEN):
        what = _group_words(group)
        seen = f"first seen {local_time(group.first_seen_at, zone_name)}"
        body = (f"{group.open_count} document(s) of {group.flow} at step '{group.step or '-'}': {group.pattern}\n"
                f"Latest: {group.sample_error[:500]}\n{seen}.{_link(group)}")
        if group.failure_kind != FailureKind.TRANSIENT:
            found.append(Condition(f"group:{group.pk}:open", AlertKind.NEW_GROUP,
                                   f"{tenant.name}: new problem in {group.flow}: {what}"[:300], body, group.pk, group.flow))
        if group.open_count >= alert_settings.growth_threshold:
            found.append(Condition(f"group:{group.pk}:grew", AlertKind.GROUP_GREW,
                                   f"{tenant.name}: {group.open_count} documents {what}"[:300], body, group.pk, group.flow))
    labels = {flow.name: flow.label for flow in all_flows()}
    for rule in SilenceRule.objects.filter(alert_settings=alert_settings):
        label = labels.get(rule.flow, rule.flow)
        if rule.minutes_without_success:
            window = timedelta(minutes=rule.minutes_without_success)
            # A rule younger than its window has nothing to say yet.
            last = sync_last_success(tenant_id=tenant.pk, flow_name=rule.flow) \
                if now - rule.created_at >= window else now
            if last is None or last < now - window:
                found.append(Condition(
                    f"silence:{rule.flow}:success", AlertKind.NO_SUCCESS,
                    f"{tenant.name}: {label} has had no successful cycle for {_span(window)}",
                    f"Last successful cycle: {local_time(last, zone_name)}. Check the sync runs and the schedule.",
                    flow=rule.flow))
        if rule.hours_without_documents:
            window = timedelta(hours=rule.hours_without_documents)
            if now - rule.created_at >= window and not Document.objects.filter(
                    tenant=tenant, flow=rule.flow, created_at__gte=now - window).exists():
                found.append(Condition(
                    f"silence:{rule.flow}:documents", AlertKind.NO_DOCUMENTS,
                    f"{tenant.name}: no {label} document for {_span(window)}",
                    f"Nothing has arrived since {local_time(now - window, zone_name)} at least.", flow=rule.flow))
    return found


def _group_words(group: FailureGroup) -> str:
    if group.kind == GroupKind.MAPPING and group.missing_value:
        return f"waiting on a {group.missing_kind} mapping for {group.missing_label or group.missing_value}"
    return group.pattern[:160]


def _link(group: FailureGroup) -> str:
    base = settings.SITE_URL
    if not base:
        return ""
    return f"\n{base.rstrip('/')}{reverse('admin:console_failuregroup_change', args=[group.pk])}"


def _span(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % (60 * 24) == 0:
        return f"{minutes // 1440} day(s)"
    return f"{minutes // 60} hour(s)" if minutes % 60 == 0 else f"{minutes} minutes"


def alert_open(*, alert_settings: AlertSettings, condition: Condition, now: datetime, report: AlertReport) -> Alert | None:
    tenant = alert_settings.tenant
    throttle = timedelta(minutes=alert_settings.throttle_minutes)
    recently = Alert.objects.filter(tenant=tenant, key=condition.key, notified=True, opened_at__gte=now - throttle).exists()
    sent_last_hour = AlertDelivery.objects.filter(alert__tenant=tenant, notice="opened",
                                                  sent_at__gte=now - timedelta(hours=1)).values("alert").distinct().count()
    throttled = recently or sent_last_hour >= alert_settings.max_notices_per_hour
    try:
        with transaction.atomic():
            alert = Alert.objects.create(tenant=tenant, kind=condition.kind, key=condition.key, group_id=condition.group_id,
                                         flow=condition.flow, title=condition.title, body=condition.body, opened_at=now,
                                         throttled=throttled)
    except IntegrityError:  # another pass opened it first
        return None
    report.opened += 1
    if throttled:
        report.throttled += 1
        log.info("alert throttled", alert_id=alert.pk, kind=condition.kind)
        return alert
    if notice_send(alert_settings=alert_settings, alert=alert, notice="opened", now=now):
        Alert.objects.filter(pk=alert.pk).update(notified=True)
        alert.notified = True
        report.sent += 1
    return alert


def alert_resolve(*, alert_settings: AlertSettings, alert: Alert, now: datetime, report: AlertReport) -> None:
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED, resolved_at=now)
    alert.status, alert.resolved_at = AlertStatus.RESOLVED, now
    report.resolved += 1
    if alert.notified and notice_send(alert_settings=alert_settings, alert=alert, notice="resolved", now=now):
        report.sent += 1


def notice_send(*, alert_settings: AlertSettings, alert: Alert, notice: str, now: datetime) -> bool:
    """Send on every channel the tenant set; True when at least one took it."""
    zone_name = alert_settings.tenant.time_zone
    if notice == "resolved":
        subject = f"Resolved: {alert.title}"[:300]
        text = f"{alert.title}\nResolved at {local_time(now, zone_name)} (opened {local_time(alert.opened_at, zone_name)})."
    else:
        subject = alert.title[:300]
        text = f"{alert.title}\n\n{alert.body}\n\nOpened at {local_time(now, zone_name)}."
    delivered = False
    recipients = alert_settings.recipients()
    if recipients:
        delivered |= _deliver(alert, notice, DeliveryChannel.EMAIL, ", ".join(recipients), subject, now,
                              lambda: EmailMessage(f"[ml-connector] {subject}", text, to=recipients).send())
    if alert_settings.webhook_url:
        host = urlsplit(alert_settings.webhook_url).netloc or "webhook"
        payload = {"text": f"[ml-connector] {text}",
                   "alert": {"tenant": alert_settings.tenant.slug, "kind": alert.kind, "notice": notice,
                             "title": alert.title, "flow": alert.flow, "opened_at": alert.opened_at.isoformat(),
                             "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None}}
        delivered |= _deliver(alert, notice, DeliveryChannel.WEBHOOK, host, subject, now,
                              lambda: webhook_post(url=alert_settings.webhook_url, payload=payload))
    return delivered


def _deliver(alert: Alert, notice: str, channel: str, recipients: str, subject: str, now: datetime, send) -> bool:
    try:
        send()
    except Exception as exc:  # noqa: BLE001 - a channel that fails is recorded, the others still go
        error = f"{type(exc).__name__}: {exc}"[:1000]
        AlertDelivery.objects.create(alert=alert, notice=notice, channel=channel, recipients=recipients[:500],
                                     subject=subject, sent_at=now, ok=False, error=error)
        log.warning("alert delivery failed", alert_id=alert.pk, channel=channel, error=error)
        return False
    AlertDelivery.objects.create(alert=alert, notice=notice, channel=channel, recipients=recipients[:500],
                                 subject=subject, sent_at=now, ok=True)
    return True


def webhook_post(*, url: str, payload: dict) -> None:
    """POST the JSON a chat tool's incoming webhook takes ({"text": …}); any 2xx is taken."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    client = PolicyClient(base, system="alert webhook", policy=WEBHOOK_POLICY)
    try:
        response = client.request("POST", path or "/", content=json.dumps(payload),
                                  headers={"Content-Type": "application/json"})
    except IntegrationFailure as exc:
        # The policy's messages name the path, and a chat webhook's path is its secret.
        raise WebhookFailed(f"{parts.netloc} could not take the alert ({exc.kind}: "
                            f"{type(exc.__cause__ or exc).__name__}, status {exc.status or '-'})") from None
    finally:
        client.close()
    if not 200 <= response.status_code < 300:
        raise WebhookFailed(f"{parts.netloc} answered {response.status_code}")
