"""The notifier's deliveries without a cluster: TLS that verifies, webhooks kept off internal
addresses, failures that do not retry, generic error text, a restart's unfinished rows, and alerts a
rebuilt hub re-opens."""
from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from types import SimpleNamespace
from typing import ClassVar

import pytest

from actors import notifier as notifier_module
from actors.notifier import MailSettings, Permanent, error_text
from actors.topology import DomainError, Topology
from engine import support_store
from engine.notify import Delivery, NotificationPolicy, Preferences, address_refused, email_text, parse_allow


def make_notifier(**mail):
    return notifier_module.Notifier.__ray_metadata__.modified_class(Topology("t", 1, 1), MailSettings(**mail))


def item(**extra):
    return {"alert_id": "c1:a", "course_id": "c1", "student_id": "s1", "kind": "struggling", "priority": 1,
            "professor_id": "p1", "message": "m", "ts": "t"} | extra


# -- SMTP TLS ------------------------------------------------------------------------


class FakeSmtp:
    made: ClassVar[list] = []

    def __init__(self, host, port, timeout=None, context=None):
        self.context, self.starttls_context = context, None
        FakeSmtp.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self, context=None):
        self.starttls_context = context

    def login(self, user, password):
        pass

    def send_message(self, msg):
        pass


@pytest.mark.parametrize("mode, attribute", [("starttls", "starttls_context"), ("ssl", "context")])
def test_smtp_tls_verifies_the_servers_certificate(monkeypatch, mode, attribute):
    """Without a context smtplib accepts any certificate: the relay login could be taken."""
    FakeSmtp.made = []
    monkeypatch.setattr(smtplib, "SMTP", FakeSmtp)
    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSmtp)
    make_notifier(smtp_tls=mode, smtp_username="u", smtp_password="p")._send_mail("a@b.org", "s", "b")
    context = getattr(FakeSmtp.made[0], attribute)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_ca_file_is_trusted_besides_the_system_cas(tmp_path):
    with pytest.raises((FileNotFoundError, ssl.SSLError)):
        MailSettings(smtp_ca_file=str(tmp_path / "missing.pem")).tls_context()
    assert MailSettings().tls_context().verify_mode == ssl.CERT_REQUIRED


# -- email text --------------------------------------------------------------------


def test_a_line_break_in_a_name_or_title_does_not_break_the_email():
    subject, body = email_text(item(), "Intro\r\nBcc: x@evil.org", "Ann\nLee")
    msg = EmailMessage()
    msg["Subject"] = subject  # EmailMessage refused CR/LF: every email about this student failed
    msg.set_content(body)
    assert "\n" not in subject and "\r" not in subject and "Ann Lee" in subject and "Ann Lee" in body


def test_a_failure_that_always_recurs_is_failed_at_once_not_retried():
    notifier = make_notifier(retry_base_s=0.0, max_attempts=5)
    rows, calls = [], []

    async def send(d, it):
        calls.append(d)
        raise ValueError("bad header")

    async def record(row):
        rows.append(dict(row))

    notifier._send, notifier._record = send, record
    asyncio.run(notifier._deliver(Delivery("n1", "email", "p@x.org"), item()))
    assert len(calls) == 1 and rows[-1]["status"] == "failed" and rows[-1]["attempts"] == 1


# -- webhooks: addresses and error text -------------------------------------------------------


@pytest.mark.parametrize("address, refused", [
    ("127.0.0.1", True), ("::1", True), ("169.254.169.254", True), ("10.1.2.3", True), ("192.168.0.9", True),
    ("172.16.0.1", True), ("100.64.0.1", True), ("0.0.0.0", True), ("::ffff:127.0.0.1", True),
    ("fe80::1", True), ("fc00::1", True), ("224.0.0.1", True), ("240.0.0.1", True),
    ("93.184.216.34", False), ("2606:2800:220:1::", False),
])
def test_webhooks_may_not_reach_internal_addresses(address, refused):
    assert address_refused(address) is refused


def test_the_operator_allow_list_lets_named_networks_through():
    allow = parse_allow("127.0.0.1, 10.0.0.0/8")
    assert not address_refused("127.0.0.1", allow) and not address_refused("10.9.9.9", allow)
    assert address_refused("127.0.0.2", allow) and address_refused("169.254.169.254", allow)
    with pytest.raises(ValueError, match="nope"):
        parse_allow("10.0.0.0/8,nope")


def notifier_with_log(**mail):
    notifier = make_notifier(**mail)
    saved = {}

    class Remote:
        def __init__(self, fn):
            self.remote = fn

    async def nothing(*a):
        return {}

    async def save(pid, prefs):
        saved[pid] = prefs

    async def email(pid):
        return None

    notifier._prefs = {}
    notifier._handles = SimpleNamespace(log=SimpleNamespace(
        save_notification_preferences=Remote(save), professor_email=Remote(email)))
    return notifier, saved


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8265/api",
                                 "http://localhost:8000/x", "http://[::1]/x", "http://10.0.0.5/x"])
def test_a_webhook_preference_aimed_inside_is_422(url):
    notifier, saved = notifier_with_log()
    with pytest.raises(DomainError) as err:
        asyncio.run(notifier.set_preferences("p1", {"channels": ["webhook"], "webhook_url": url}))
    assert (err.value.status, err.value.field) == (422, "webhook_url")
    assert saved == {}


def test_allowed_loopback_webhooks_are_accepted():
    notifier, saved = notifier_with_log(webhook_allow="127.0.0.1")
    asyncio.run(notifier.set_preferences("p1", {"channels": ["webhook"], "webhook_url": "http://127.0.0.1:9/x"}))
    assert saved["p1"]["webhook_url"] == "http://127.0.0.1:9/x"


def test_a_name_that_resolves_inside_is_refused_at_send_time_without_posting(monkeypatch):
    notifier = make_notifier()
    posted = []

    class Http:
        async def post(self, url, json):
            posted.append(url)
            return SimpleNamespace(status_code=200)

    async def resolve(host, port, **kw):
        return [(2, 1, 6, "", ("127.0.0.1", port))]  # a name rebound to loopback since it was saved

    notifier._http = Http()

    async def run():
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
        await notifier._send(Delivery("n", "webhook", "https://hooks.example.org/h"), item())

    with pytest.raises(Permanent):
        asyncio.run(run())
    assert posted == []


def test_error_text_says_what_kind_of_failure_not_the_librarys_words():
    import httpx
    assert error_text(httpx.ConnectError("[Errno 111] Connection refused")) == "could not connect"
    assert error_text(ConnectionRefusedError(111, "refused")) == "could not connect"
    assert error_text(httpx.ReadTimeout("read")) == "timed out"
    assert error_text(notifier_module.WebhookStatus(404)) == "webhook answered HTTP 404"
    assert error_text(smtplib.SMTPRecipientsRefused({})) == "the mail server refused it (SMTPRecipientsRefused)"
    assert error_text(smtplib.SMTPAuthenticationError(535, b"no")) == "the mail server refused it (535)"


# -- restarts ------------------------------------------------------------------------------


def test_deliveries_a_dead_notifier_left_retrying_are_recorded_failed(store):
    row = {"notification_id": "n1", "channel": "webhook", "professor_id": "p1", "course_id": "c1",
           "student_id": "s1", "alert_id": "c1:a", "kind": "idle", "priority": 1, "status": "retrying",
           "attempts": 2, "last_error": "could not connect", "created_at": 1000.0, "updated_at": 1010.0}
    support_store.save_deliveries(store, [row, row | {"notification_id": "n2", "status": "sent"},
                                          row | {"notification_id": "n3", "updated_at": 5000.0}])
    assert support_store.fail_unfinished(store, 2000.0, notifier_module.INTERRUPTED) == 1
    by_id = {r["notification_id"]: r for r in support_store.deliveries(store, "p1")}
    assert by_id["n1"]["status"] == "failed" and by_id["n1"]["last_error"] == notifier_module.INTERRUPTED
    assert by_id["n2"]["status"] == "sent" and by_id["n3"]["status"] == "retrying"  # a live notifier's


def test_a_reopened_alert_is_not_notified_again_within_the_day_after_a_restart():
    """Notified, the quiet period (30 min) passes, the stack restarts: the rebuilt hub re-opens the
    alert with a new id, and the professor must not get the same email again."""
    prefs = Preferences().merge({"channels": ["in_app", "email"], "email": "p@x.org", "quiet_minutes": 30})
    before = NotificationPolicy()
    sent, _ = before.decide(item(alert_id="c1:old"), prefs, None, now=1000.0)
    assert [d.channel for d in sent] == ["in_app", "email"]
    restarted = NotificationPolicy()
    restarted.remember([("c1", "s1", "struggling", 1000.0)])
    later = 1000.0 + 45 * 60
    mails = [d for d in restarted.decide(item(alert_id="c1:new", reopened=True), prefs, None, now=later)[0]
             if d.channel == "email"]
    assert mails == []
    # a genuinely new episode (not a rebuild's re-open) past the quiet period is notified
    assert restarted.decide(item(alert_id="c1:next"), prefs, None, now=later + 60)[1] is None
    # a day on, a re-open is news again
    fresh = NotificationPolicy()
    fresh.remember([("c1", "s1", "struggling", 1000.0)])
    assert fresh.decide(item(alert_id="c1:x", reopened=True), prefs, None, now=1000.0 + 86_401)[1] is None


def test_a_rebuilt_hub_marks_the_alerts_it_reopens():
    from actors.hub_support import SupportHub

    class Alert:
        def __init__(self, aid):
            self.alert_id, self.student_id = aid, "s1"

        def to_wire(self):
            return {"alert_id": self.alert_id, "student_id": "s1", "course_id": "c1", "kind": "idle"}

    class View:
        course = SimpleNamespace(professor_id="p1", title="C1")
        names: ClassVar[dict] = {"s1": "Ann"}
        pending: ClassVar[list] = []

        def drain_opened(self):
            out, View.pending = View.pending, []
            return out

    handed = []
    hub = SupportHub()
    hub._init_comms()
    hub.views = {"c1": View()}
    hub._notifier = SimpleNamespace(alerts_opened=SimpleNamespace(remote=handed.append))
    hub._overtime_nudges = lambda now: []

    async def no_notifier_lookup():
        pass

    hub._find_notifier = no_notifier_lookup
    hub._handles = SimpleNamespace(log=SimpleNamespace(
        office_hours_state=SimpleNamespace(remote=lambda ids: asyncio.sleep(0, {})),
        help_history_for_hub=SimpleNamespace(remote=lambda ids: asyncio.sleep(0, {}))))
    asyncio.run(hub._recover_comms())
    View.pending = [Alert("c1:a")]
    hub._comms_tick()  # the rebuild's first refresh

    def refresh(force=False):  # the refresh after escalation history is back: still the rebuild's
        View.pending = [Alert("c1:b")]
        hub._comms_tick()

    hub._refresh = refresh
    asyncio.run(hub._recover_escalation())
    View.pending = [Alert("c1:c")]
    hub._comms_tick()  # after the rebuild
    assert [(i["alert_id"], i["reopened"]) for items in handed for i in items] == [
        ("c1:a", True), ("c1:b", True), ("c1:c", False)]
