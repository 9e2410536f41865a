"""Notifier: delivers notifications (in-app, email, webhook) off the event path.

Course hubs hand it alerts that just opened with a fire-and-forget call, so a
slow SMTP server or a webhook that points nowhere never delays ingest or the
live view. It applies the professor's preferences and the de-duplication and
quiet-period policy (engine/notify.py), then delivers each channel in its own
task, retrying failures with exponential backoff, and records every attempt
in ``notification_log`` (through the EventLog, which owns DuckDB). A failure
that would recur on every attempt (a refused webhook address, a message that
cannot be built) is recorded ``failed`` at once. Retries live in memory only,
so on start the notifier records deliveries a previous incarnation left
``pending`` or ``retrying`` as ``failed`` (``interrupted``): nothing stays
"retrying" forever. SMTP over TLS verifies the server's certificate (the
system's CAs, or ``CLASSPULSE_SMTP_CA_FILE``).
"""
from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import ray

from actors.topology import DomainError, Handles, Topology
from engine.notify import (
    Delivery,
    NotificationPolicy,
    PreferenceError,
    Preferences,
    address_refused,
    backoff_s,
    email_text,
    literal_host_refused,
    parse_allow,
    webhook_payload,
)

log = logging.getLogger(__name__)
PER_ENDPOINT = 4  # webhook posts in flight per endpoint (host and port)
NOTIFIER = "notifier"
RECORD_BATCH_S = 0.2
REFUSED = "the webhook's address is loopback, private, link-local or reserved (not allowed)"
INTERRUPTED = "interrupted: the notifier restarted before this delivery finished"


class Permanent(Exception):
    """A delivery failure that every retry would repeat: recorded ``failed`` at once."""


class WebhookStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"answered HTTP {status}")


@dataclass(frozen=True)
class MailSettings:
    """Where email and webhooks go out (classpulse/settings.py: CLASSPULSE_SMTP_*, CLASSPULSE_NOTIFY_*)."""

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "classpulse@localhost"
    smtp_tls: str = "none"  # none | starttls | ssl
    smtp_username: str | None = None
    smtp_password: str | None = None
    timeout_s: float = 10.0
    retry_base_s: float = 2.0
    max_attempts: int = 5
    smtp_ca_file: str | None = None  # trust this CA (PEM) for the relay's certificate, besides the system's
    webhook_allow: str = ""  # addresses/networks webhooks may reach although not public (engine/notify.parse_allow)

    def tls_context(self) -> ssl.SSLContext:
        """A verifying context (certificate chain and host name): without one, smtplib's TLS accepts
        any certificate, so anyone on the path could take the relay login."""
        context = ssl.create_default_context()
        if self.smtp_ca_file:
            context.load_verify_locations(cafile=self.smtp_ca_file)
        return context


@ray.remote(max_restarts=-1, max_task_retries=-1)
class Notifier:
    def __init__(self, topology: Topology, mail: MailSettings) -> None:
        self._handles = Handles(topology)
        self._mail = mail
        self._policy = NotificationPolicy()
        self._prefs: dict[str, Preferences] | None = None
        self._tasks: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None
        self._pending: dict[tuple[str, str], dict[str, Any]] = {}
        self._flusher: asyncio.Task | None = None
        self._per_endpoint: dict[str, asyncio.Semaphore] = {}
        self._allow = parse_allow(mail.webhook_allow)
        self._started = time.time()

    async def warm(self) -> None:
        """Resolve the EventLog handle and load preferences now, not on the first alert: a handle
        loads the EventLog's class, whose imports (pyarrow.compute, duckdb) cost ~0.3 s of CPU, and
        the first alert comes when a class is busiest. Off the event loop (a blocking GCS call)."""
        try:
            await asyncio.to_thread(lambda: self._handles.log)
            await self._preferences()
        except Exception:  # a warm-up only: the first alert resolves the handle anyway
            log.warning("notifier warm-up failed; the first alert will resolve the event log", exc_info=True)

    async def _preferences(self) -> dict[str, Preferences]:
        if self._prefs is None:
            stored = await self._handles.log.notification_preferences.remote()
            # quiet periods from before a restart (the longest a professor may set is a day)
            self._policy.remember(await self._handles.log.last_notified.remote(time.time() - 86_400))
            # a previous notifier's retries died with it: say so instead of "retrying" forever
            await self._handles.log.fail_unfinished_deliveries.remote(self._started, INTERRUPTED)
            self._prefs = {pid: Preferences.from_dict(p) for pid, p in stored.items()}
        return self._prefs

    # -- preferences -------------------------------------------------------------

    async def preferences(self, professor_id: str) -> dict[str, Any]:
        prefs = (await self._preferences()).get(professor_id, Preferences())
        default = await self._handles.log.professor_email.remote(professor_id)
        return {"professor_id": professor_id, **prefs.to_dict(), "default_email": default}

    async def set_preferences(self, professor_id: str, updates: Any) -> dict[str, Any]:
        current = (await self._preferences()).get(professor_id, Preferences())
        try:
            merged = current.merge(updates)
        except PreferenceError as exc:
            raise DomainError(422, exc.field, exc.error) from None
        if merged.webhook_url and merged.webhook_url != current.webhook_url \
                and await self._refused(merged.webhook_url, resolve_errors=False):
            raise DomainError(422, "webhook_url", "must not point at a loopback, private, link-local or "
                                                  "reserved address")
        await self._handles.log.save_notification_preferences.remote(professor_id, merged.to_dict())
        self._prefs[professor_id] = merged
        return await self.preferences(professor_id)

    # -- notifications -------------------------------------------------------------

    async def alerts_opened(self, items: list[dict[str, Any]]) -> int:
        """Schedule notifications for alerts that just opened; returns at once (deliveries run later).
        Each item is an alert's wire form plus ``professor_id``, ``course_title``, ``student_name``."""
        prefs = await self._preferences()
        scheduled = 0
        for item in items:
            professor_id = item["professor_id"]
            p = prefs.get(professor_id, Preferences())
            default_email = await self._handles.log.professor_email.remote(professor_id) \
                if "email" in p.channels and not p.email else None
            deliveries, _ = self._policy.decide(item, p, default_email)
            for d in deliveries:
                self._spawn(self._deliver(d, item))
                scheduled += 1
        return scheduled

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, d: Delivery, item: dict[str, Any]) -> None:
        now = time.time()
        row = {"notification_id": d.notification_id, "channel": d.channel, "professor_id": item["professor_id"],
               "course_id": item["course_id"], "student_id": item["student_id"], "alert_id": item["alert_id"],
               "kind": item["kind"], "priority": item["priority"], "target": d.target, "status": "pending",
               "attempts": 0, "last_error": None, "created_at": now, "updated_at": now}
        if d.channel == "in_app":  # the alert is on the professor's stream; this row is the inbox entry
            await self._record(row | {"status": "delivered", "attempts": 1})
            return
        for attempt in range(1, self._mail.max_attempts + 1):
            try:
                await self._send(d, item)
                await self._record(row | {"status": "sent", "attempts": attempt, "last_error": None,
                                          "updated_at": time.time()})
                return
            except Exception as exc:  # noqa: BLE001 (any failure of a channel is recorded, then retried)
                last = attempt == self._mail.max_attempts or isinstance(exc, (Permanent, ValueError, TypeError))
                row |= {"status": "failed" if last else "retrying", "attempts": attempt,
                        "last_error": error_text(exc), "updated_at": time.time()}
                await self._record(row)
                if last:
                    return
                await asyncio.sleep(backoff_s(attempt, self._mail.retry_base_s))

    async def _send(self, d: Delivery, item: dict[str, Any]) -> None:
        if d.channel in ("email", "escalation_email"):
            subject, body = email_text(item, item.get("course_title", item["course_id"]),
                                       item.get("student_name", item["student_id"]))
            await asyncio.to_thread(self._send_mail, d.target, subject, body)
        elif d.channel == "webhook":
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=self._mail.timeout_s, follow_redirects=False)
            # a few at a time per endpoint: a dead one then holds a few of the shared pool's 100
            # connections, not all of them (other professors' webhooks timed out waiting for one)
            gate = self._per_endpoint.setdefault(urlsplit(d.target).netloc, asyncio.Semaphore(PER_ENDPOINT))
            async with gate:
                if await self._refused(d.target, resolve_errors=True):  # names too, as they resolve now
                    raise Permanent(REFUSED)
                r = await self._http.post(d.target,
                                          json=webhook_payload(item, d.notification_id, item["professor_id"]))
            if r.status_code >= 300:
                raise WebhookStatus(r.status_code)
        else:
            raise ValueError(f"unknown channel {d.channel}")

    async def _refused(self, url: str, resolve_errors: bool) -> bool:
        """Whether ``url``'s host is, or resolves to, an address webhooks may not reach.
        ``resolve_errors``: a name that does not resolve counts as refused (at send time; a
        preference may name a host that does not resolve yet)."""
        if literal_host_refused(url, self._allow):
            return True
        parts = urlsplit(url)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
        except OSError:
            if resolve_errors:
                raise
            return False
        return any(address_refused(info[4][0], self._allow) for info in infos)

    def _send_mail(self, to: str, subject: str, body: str) -> None:
        m = self._mail
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = m.smtp_from, to, subject
        msg.set_content(body)
        if m.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(m.smtp_host, m.smtp_port, timeout=m.timeout_s, context=m.tls_context())
        else:
            smtp = smtplib.SMTP(m.smtp_host, m.smtp_port, timeout=m.timeout_s)
        with smtp:
            if m.smtp_tls == "starttls":
                smtp.starttls(context=m.tls_context())
            if m.smtp_username:
                smtp.login(m.smtp_username, m.smtp_password or "")
            smtp.send_message(msg)

    async def _record(self, row: dict[str, Any]) -> None:
        """Queue a delivery row; rows are written in batches (one EventLog call per ~0.2 s, not per row,
        so a burst of alerts costs the log one transaction)."""
        self._pending[(row["notification_id"], row["channel"])] = dict(row)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:  # rows queued while a batch was being written go in the next one
            await asyncio.sleep(RECORD_BATCH_S)
            rows, self._pending = list(self._pending.values()), {}
            try:
                await self._handles.log.save_deliveries.remote(rows)
            except Exception:
                log.warning("could not record %d deliveries", len(rows), exc_info=True)

    async def in_flight(self) -> int:
        return len(self._tasks)

    async def status(self) -> dict[str, Any]:
        return {"in_flight": len(self._tasks), "professors_with_preferences": len(await self._preferences())}


def error_text(exc: BaseException) -> str:
    """What a professor sees of a failed delivery: the kind of failure, not the library's text (which
    told a closed port from an open one, so a webhook doubled as a port scanner)."""
    if isinstance(exc, Permanent):
        return str(exc)
    if isinstance(exc, WebhookStatus):
        return f"webhook {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "the server's TLS certificate is not trusted"
    if isinstance(exc, httpx.TimeoutException | TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, httpx.TransportError | OSError) and not isinstance(exc, smtplib.SMTPException):
        return "could not connect"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server refused it ({exc.smtp_code})"
    if isinstance(exc, smtplib.SMTPException):
        return f"the mail server refused it ({type(exc).__name__})"
    if isinstance(exc, ValueError | TypeError):
        return "the notification could not be built"
    return f"failed ({type(exc).__name__})"
