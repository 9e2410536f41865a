import pytest

from engine.alerts import ACKNOWLEDGED, OPEN, RESOLVED, SNOOZED, AlertBook
from engine.config import AlertConfig, ConfigError


@pytest.mark.parametrize("update, field", [
    ({"idle_after_s": -1}, "idle_after_s"),
    ({"idle_after_s": "soon"}, "idle_after_s"),
    ({"struggling_error_rate": 1.5}, "struggling_error_rate"),
    ({"struggling_window": 2.5}, "struggling_window"),
    ({"struggling_min_attempts": 6}, "struggling_min_attempts"),  # > window 5
    ({"colour": "red"}, "colour"),
    ({"hint_burst": True}, "hint_burst"),
])
def test_invalid_thresholds_name_the_field(update, field):
    with pytest.raises(ConfigError) as err:
        AlertConfig().merge(update)
    assert err.value.field == field


def test_merge_keeps_other_fields():
    c = AlertConfig().merge({"idle_after_s": 300, "struggling_window": 8})
    assert (c.idle_after_s, c.struggling_window, c.hint_burst) == (300.0, 8, 3)


def make_book():
    counter = iter(range(1, 10_000))
    return AlertBook("c1", lambda: next(counter))


def test_alert_lifecycle_open_ack_resolve():
    book = make_book()
    [opened] = book.update("s1", [("struggling", "3 of 3 wrong")], now=1.0)
    assert opened.state == OPEN and opened.priority == 1
    assert book.update("s1", [("struggling", "still")], now=2.0) == []  # no duplicate alert
    assert book.acknowledge(opened.alert_id).state == ACKNOWLEDGED
    [resolved] = book.update("s1", [], now=3.0)
    assert resolved.state == RESOLVED and resolved.alert_id == opened.alert_id
    [again] = book.update("s1", [("struggling", "again")], now=4.0)
    assert again.alert_id != opened.alert_id and again.state == OPEN


def test_snooze_reopens_when_due_if_condition_still_holds():
    book = make_book()
    [a] = book.update("s1", [("idle", "quiet")], now=0.0)
    assert book.snooze(a.alert_id, until=100.0).state == SNOOZED
    assert book.update("s1", [("idle", "quiet")], now=50.0) == []
    [reopened] = book.update("s1", [("idle", "quiet")], now=100.0)
    assert reopened.state == OPEN


def test_active_alerts_ordered_by_priority_then_time():
    book = make_book()
    book.update("s1", [("behind", "b")], now=1.0)
    book.update("s2", [("struggling", "s")], now=2.0)
    book.update("s3", [("idle", "i")], now=0.5)
    assert [a.kind for a in book.active()] == ["struggling", "idle", "behind"]
