"""Issued xAPI credentials: secret stored only hashed, scope and secret survive a restart."""
import pytest

from actors.commit import GroupCommitter
from actors.registry import Registry, hash_token
from actors.topology import DomainError
from actors.xapi_desk import XapiDesk
from engine.store import Store


def desk_on(path):
    store = Store(path)
    registry = Registry(store, store.load_catalog())
    return store, registry, XapiDesk(store, registry, GroupCommitter(store, lambda batch: None))


def test_credentials_survive_a_restart_and_keep_their_scope(tmp_path):
    store, registry, desk = desk_on(tmp_path / "db.duckdb")
    registry.add_professor("p1", "P", None, False)
    for c in ("c1", "c2"):
        registry.add_course({"course_id": c, "professor_id": "p1", "title": c,
                             "activities": [{"activity_id": "a", "title": "A", "expected_minutes": 1}]})
    one = desk.issue(["c1"], None)
    many = desk.issue(["c1", "c2"], "Example U")
    with pytest.raises(DomainError) as err:
        desk.issue(["nope"], None)
    assert err.value.status == 422
    store.close()

    store, registry, desk = desk_on(tmp_path / "db.duckdb")
    assert registry.principal(hash_token(one["secret"])) == ("xapi", one["key"])
    cur = store.cursor()
    assert cur.execute("SELECT count(*) FROM tokens WHERE token_hash = ?", (one["secret"],)).fetchone()[0] == 0
    c1 = desk.caller("xapi", one["key"])
    assert c1.courses == {"c1"} and c1.default_course == "c1" and c1.may_void
    both = desk.caller("xapi", many["key"])
    assert both.courses == {"c1", "c2"} and both.default_course is None
    with pytest.raises(DomainError):
        desk.caller("professor", "p1")
    store.close()
