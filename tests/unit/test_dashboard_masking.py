"""What the dashboard shows of a delivery target: a webhook URL's secret parts never."""
from dashboard.office_hours import _masked


def test_webhook_urls_show_scheme_and_host_only():
    assert _masked("https://hooks.example.org/T000/B000/secretpart?token=abc") == "https://hooks.example.org/…"
    assert _masked("https://user:pw@hooks.example.org:8443") == "https://hooks.example.org:8443/…"
    assert _masked("prof@example.org") == "prof@example.org" and _masked(None) is None
