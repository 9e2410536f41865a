"""Notifications: per-professor preferences, which alerts become notifications, and retry timing.

Channels: ``in_app`` (the alert is on the professor's live stream and the
notification in ``GET /api/professor/notifications``), ``email`` (SMTP) and
``webhook`` (HTTP POST of JSON). The policy is pure and decides, for an
alert that just opened:

* one notification per alert (an alert id is notified once, however often the
  view refreshes or the alert reopens after a snooze);
* at most one per (course, student, kind) per ``quiet_minutes``;
* an alert a rebuilt hub re-opens (``reopened``: it held before the restart and
  still does) is not notified again if that (course, student, kind) was
  notified within the last day (``REMEMBER_S``), whatever ``quiet_minutes`` is;
* only alerts at ``min_priority`` or more urgent (priority 1 is the highest);
* escalations also go to ``escalation_email`` (support staff) when set.

Failed deliveries are retried with exponential backoff (``backoff_s``).
Webhooks may not point at loopback, private, link-local or reserved addresses
(``address_refused``) unless the operator allows them (``parse_allow``).
"""
from __future__ import annotations

import ipaddress
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

CHANNELS = ("in_app", "email", "webhook")
MAX_EMAIL = 254
MAX_URL = 2000
REMEMBER_ALERTS = 100_000
REMEMBER_S = 86_400.0  # a re-opened alert is not notified again within a day of the last notification
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class PreferenceError(ValueError):
    def __init__(self, field_name: str, error: str) -> None:
        super().__init__(f"{field_name}: {error}")
        self.field, self.error = field_name, error


@dataclass(frozen=True, slots=True)
class Preferences:
    channels: tuple[str, ...] = ("in_app",)
    email: str | None = None  # default: the professor's email from the catalogue
    webhook_url: str | None = None
    min_priority: int = 2  # notify alerts with priority <= this (1 is the most urgent)
    quiet_minutes: float = 30.0
    escalation_email: str | None = None  # support staff, copied on escalations

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"channels": list(self.channels)}

    def merge(self, updates: Any) -> Preferences:
        """New preferences with ``updates`` applied; PreferenceError names the bad field."""
        if not isinstance(updates, dict):
            raise PreferenceError("body", "must be a JSON object of preferences")
        changes: dict[str, Any] = {}
        for name, value in updates.items():
            if name not in _FIELDS:
                raise PreferenceError(name, f"unknown preference; known: {', '.join(_FIELDS)}")
            changes[name] = _FIELDS[name](name, value)
        merged = replace(self, **changes)
        if "webhook" in merged.channels and not merged.webhook_url:
            raise PreferenceError("webhook_url", "required when the webhook channel is on")
        return merged

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Preferences:
        try:
            return cls().merge({k: v for k, v in (data or {}).items() if k in _FIELDS})
        except PreferenceError:
            return cls()


def _channels(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(v in CHANNELS for v in value):
        raise PreferenceError(name, f"must be a list drawn from {', '.join(CHANNELS)}")
    return tuple(dict.fromkeys(value))


def _email(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_EMAIL or value.count("@") != 1 \
            or any(c.isspace() for c in value) or not all(value.split("@")):
        raise PreferenceError(name, "must be an email address like name@example.org")
    return value


def _url(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        parsed = urlparse(value) if isinstance(value, str) else None
    except ValueError:  # e.g. "http://[::1": an unclosed IPv6 host
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc or len(value) > MAX_URL:
        raise PreferenceError(name, "must be an http:// or https:// URL")
    return value


def _priority(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
        raise PreferenceError(name, "must be 1, 2 or 3 (1 is the most urgent)")
    return value


def _minutes(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1440:
        raise PreferenceError(name, "must be a number of minutes between 0 and 1440")
    return float(value)


_FIELDS = {"channels": _channels, "email": _email, "webhook_url": _url, "min_priority": _priority,
           "quiet_minutes": _minutes, "escalation_email": _email}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification on one channel, to one target (an address or a URL)."""

    notification_id: str
    channel: str
    target: str | None


@dataclass(slots=True)
class NotificationPolicy:
    """De-duplication and quiet periods, across all professors (one per notifier)."""

    notified: OrderedDict = field(default_factory=OrderedDict)  # alert_id -> True (bounded)
    last_sent: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def remember(self, sent: Iterable[tuple[str, str, str, float]]) -> None:
        """Notifications sent before a restart (course, student, kind, when): their quiet periods
        hold on. A rebuilt hub opens alerts still holding again, with new ids, so without this every
        student still idle or struggling was notified again after a restart."""
        for course_id, student_id, kind, when in sent:
            key = (course_id, student_id, kind)
            self.last_sent[key] = max(self.last_sent.get(key, when), when)

    def decide(self, alert: dict[str, Any], prefs: Preferences, default_email: str | None,
               now: float | None = None) -> tuple[list[Delivery], str | None]:
        """The deliveries for a newly opened alert, or none and the reason. An alert marked
        ``reopened`` (a rebuilt hub's: it held before the restart) is held by the day-long memory,
        not only the quiet period: the professor was told of it already."""
        now = time.time() if now is None else now
        alert_id = alert["alert_id"]
        if alert_id in self.notified:
            return [], "already notified for this alert"
        self.notified[alert_id] = True
        if len(self.notified) > REMEMBER_ALERTS:
            self.notified.popitem(last=False)
        if alert["priority"] > prefs.min_priority:
            return [], f"priority {alert['priority']} is below the professor's minimum {prefs.min_priority}"
        key = (alert["course_id"], alert["student_id"], alert["kind"])
        last = self.last_sent.get(key)
        if last is not None and alert.get("reopened") and now - last < REMEMBER_S:
            return [], "notified before the restart and still open"
        if last is not None and now - last < prefs.quiet_minutes * 60:
            return [], "quiet period"
        self.last_sent[key] = now
        nid = f"nt_{alert_id.rpartition(':')[2]}_{int(now * 1000)}"
        out: list[Delivery] = []
        for channel in prefs.channels:
            if channel == "in_app":
                out.append(Delivery(nid, "in_app", None))
            elif channel == "email" and (prefs.email or default_email):
                out.append(Delivery(nid, "email", prefs.email or default_email))
            elif channel == "webhook" and prefs.webhook_url:
                out.append(Delivery(nid, "webhook", prefs.webhook_url))
        if alert["kind"] == "escalation" and prefs.escalation_email:
            out.append(Delivery(nid, "escalation_email", prefs.escalation_email))
        return out, None if out else "no channel configured"


def backoff_s(attempt: int, base: float, cap: float = 300.0) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): base, 2 base, 4 base, ... capped."""
    return min(cap, base * 2 ** (attempt - 1))


def one_line(text: Any) -> str:
    """``text`` with control characters (CR, LF, tab, ...) as spaces: names and titles go into an
    email's Subject, which may not hold a line break (EmailMessage refuses it, so every email about
    a student named with a newline failed)."""
    return _CONTROL.sub(" ", str(text))


def email_text(alert: dict[str, Any], course_title: str, student_name: str) -> tuple[str, str]:
    """(subject, body) of the email for an alert (names and titles on one line)."""
    course_title, student_name = one_line(course_title), one_line(student_name)
    subject = f"[classpulse] {one_line(alert['kind']).replace('_', ' ')}: {student_name} in {course_title}"
    body = (f"{student_name} ({alert['student_id']}) in {course_title} ({alert['course_id']}):\n\n"
            f"{alert['message']}\n\nPriority {alert['priority']}, alert {alert['alert_id']} at {alert['ts']}.\n"
            "Open the classpulse dashboard to act on it.\n")
    return subject, body


def webhook_payload(alert: dict[str, Any], notification_id: str, professor_id: str) -> dict[str, Any]:
    keys = ("alert_id", "course_id", "student_id", "kind", "priority", "message", "ts")
    return {"type": "classpulse.alert", "notification_id": notification_id, "professor_id": professor_id,
            **{k: alert.get(k) for k in keys}}


def parse_allow(text: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The operator's webhook allow-list (``CLASSPULSE_NOTIFY_WEBHOOK_ALLOW``): comma-separated
    addresses or networks (``127.0.0.1``, ``10.0.0.0/8``) that webhooks may reach although they are
    not public. ValueError names a bad entry."""
    out = []
    for entry in (text or "").split(","):
        if entry.strip():
            try:
                out.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ValueError(f"not an address or network: {entry.strip()!r}") from None
    return tuple(out)


def address_refused(address: str, allow: tuple = ()) -> bool:
    """Whether a webhook may not be sent to ``address`` (an IP): loopback, private, link-local
    (169.254.169.254, the cloud metadata service), shared, reserved, multicast or unspecified
    addresses are refused unless the operator allowed them; a professor's webhook must not reach
    the cluster's own services."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])  # an IPv6 scope ("fe80::1%eth0") is not an address
    except ValueError:
        return True
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    if any(ip.version == net.version and ip in net for net in allow):
        return False
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def literal_host_refused(url: str, allow: tuple = ()) -> bool:
    """Whether a URL's host is an IP literal that ``address_refused`` refuses (names are checked
    when resolved, at send time)."""
    host = (urlparse(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return address_refused(host, allow)
