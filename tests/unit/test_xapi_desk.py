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


def one_student_class(path):
    """A desk on a fresh file with course c1 (activity a), student s1 and a credential for c1."""
    store, registry, desk = desk_on(path)
    registry.add_professor("p1", "P", None, False)
    registry.add_course({"course_id": "c1", "professor_id": "p1", "title": "C",
                         "activities": [{"activity_id": "a", "title": "A", "expected_minutes": 1}]})
    registry.add_students("c1", [{"student_id": "s1", "name": "S"}], False)
    return store, registry, desk, desk.issue(["c1"], None)


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


def test_concurrent_requests_store_once_and_a_racing_voider_still_voids(tmp_path):
    import asyncio
    import uuid

    from engine import voiding, xapi
    from engine.course import FoldParams

    def st(verb, **extra):
        return xapi.check({"id": str(uuid.uuid4()),
                           "actor": {"account": {"homePage": "https://lms.example", "name": "s1"}},
                           "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
                           "object": {"id": "https://lms.example/activities/a"}, **extra})

    async def run():
        store, _, desk, cred = one_student_class(tmp_path / "db.duckdb")
        done = st("completed")
        first, second = await asyncio.gather(desk.ingest([done], "xapi", cred["key"]),
                                             desk.ingest([done], "xapi", cred["key"]))
        assert first["applied"] + second["applied"] == 1
        assert store.counts()["xapi_statements"] == 1 and store.counts()["student_activity_log"] == 1
        target = st("completed")
        voider = xapi.check({"actor": {"mbox": "mailto:lms@example.com"},
                             "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                             "object": {"objectType": "StatementRef", "id": target["id"]}})
        await asyncio.gather(desk.ingest([target], "admin", "admin"), desk.ingest([voider], "admin", "admin"))
        await desk.ingest([done], "admin", "admin")  # again, later: acknowledged, nothing new
        cur = store.cursor()
        state = voiding.refold("c1", "s1", voiding.student_log(cur, "c1", "s1", 2**62), FoldParams(1, 180.0))
        assert state.completion(FoldParams(1, 180.0)) == 1.0  # `done` counts, `target` never does
        events = voiding.student_log(cur, "c1", "s1", 2**62)
        assert f"xapi:{done['id']}" in {e.event_id for e in events}
        counted = {e.event_id for e in events} - {e.event_id for e in events if voiding.is_marker(e)} \
            - {voiding.target(e) for e in events if voiding.is_marker(e)}
        assert counted == {f"xapi:{done['id']}"}
        summary = await desk.summary()
        assert summary["stored"] == 3 and summary["applied"] >= 1 and summary["not_applied"] == []
        store.close()

    asyncio.run(run())


def test_a_statement_being_stored_when_its_student_is_erased_is_erased_with_them(tmp_path, monkeypatch):
    """The erasure takes the student off the roster only once a statement being checked and
    stored has queued its event: the event then commits before the erasure deletes their rows."""
    import asyncio
    import time
    import uuid
    from types import MethodType, SimpleNamespace

    from actors.eventlog_privacy import LogPrivacy
    from engine import xapi, xapi_store

    store, registry, desk, cred = one_student_class(tmp_path / "db.duckdb")
    save = xapi_store.save

    def slow_save(cur, todo):  # a busy thread pool: the erasure starts while the statement is stored
        time.sleep(0.2)
        return save(cur, todo)

    monkeypatch.setattr(xapi_store, "save", slow_save)
    log = SimpleNamespace(_xapi=desk, _registry=registry, _commit=desk._commit, catalog=registry.catalog)
    log._known_student = MethodType(LogPrivacy._known_student, log)
    done = xapi.check({"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": "s1"}},
                       "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                       "object": {"id": "https://lms.example/activities/a"}})

    async def erase():
        await asyncio.sleep(0.05)
        await LogPrivacy._stop_new_events(log, "s1")
        await desk._commit.settle_queued()  # as LogPrivacy.erase_student: what was queued commits first
        store.erase_student("s1")

    async def run():
        ingested, _ = await asyncio.gather(desk.ingest([done], "xapi", cred["key"]), erase())
        return ingested

    assert asyncio.run(run())["applied"] == 1  # it queued before the roster changed ...
    assert store.counts()["student_activity_log"] == 0  # ... so the erasure took it with the rest
    assert store.counts()["xapi_statements"] == 0
    store.close()


def test_an_erasure_that_fails_part_way_finishes_when_asked_again(tmp_path):
    """The student is off the roster once the erasure starts; if deleting their rows then fails,
    asking again used to answer 404 (unknown student) with every row still stored."""
    import asyncio
    import contextlib
    from types import MethodType, SimpleNamespace

    from actors.eventlog_privacy import LogPrivacy

    store, registry, desk, _ = one_student_class(tmp_path / "db.duckdb")
    erase, failures = store.erase_student, [RuntimeError("disk full")]

    def erase_once_failing(student_id):
        if failures:
            raise failures.pop()
        return erase(student_id)

    async def remote(*_args):
        return None

    async def nothing(*_args, **_kw):
        return None

    @contextlib.asynccontextmanager
    async def paused():
        yield

    actor = SimpleNamespace(forget=SimpleNamespace(remote=remote), forget_student=SimpleNamespace(remote=remote))
    log = SimpleNamespace(_xapi=desk, _registry=registry, _commit=desk._commit, catalog=registry.catalog,
                          _store=SimpleNamespace(erase_student=erase_once_failing),
                          _read=lambda fn: fn(store.cursor()), wait_delivered=nothing, audit=nothing,
                          _derive_paused=paused,
                          _handles=SimpleNamespace(shard=lambda _i: actor, hub_for=lambda _c: actor),
                          _topology=SimpleNamespace(shard_of=lambda _s: 0), _erasing=None)
    for name in ("_known_student", "_stop_new_events", "erase_student"):
        setattr(log, name, MethodType(getattr(LogPrivacy, name), log))
    with pytest.raises(RuntimeError, match="disk full"):
        asyncio.run(log.erase_student("s1"))
    assert "s1" not in registry.catalog.students  # off the roster: no new event of theirs passes
    done = asyncio.run(log.erase_student("s1"))  # asked again: finished, not 404
    assert done["courses"] == ["c1"] and store.counts()["enrollments"] == 0
    with pytest.raises(DomainError) as gone:
        asyncio.run(log.erase_student("s1"))
    assert gone.value.status == 404
    store.close()


def test_a_student_cannot_send_statements_an_actor_mapping_gives_to_someone_else(tmp_path):
    """The route checks a student's statements by ``account.name``; the desk applies them to the
    student the admin mapped that account to. An account named s1 mapped to s2 is s2's."""
    import asyncio
    import uuid

    from engine import xapi

    store, registry, desk, _ = one_student_class(tmp_path / "db.duckdb")
    registry.add_students("c1", [{"student_id": "s2", "name": "T"}], False)
    registry.map_xapi_actors([("account:https://lms.example|s1", "s2")])
    done = xapi.check({"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": "s1"}},
                       "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                       "object": {"id": "https://lms.example/activities/a"}})
    with pytest.raises(DomainError) as refused:
        asyncio.run(desk.ingest([done], "student", "s1"))
    assert refused.value.status == 403 and store.counts()["xapi_statements"] == 0
    assert asyncio.run(desk.ingest([done], "student", "s2"))["applied"] == 1  # s2's own, as mapped
    store.close()


def _statement(verb, **extra):
    import uuid

    from engine import xapi
    return xapi.check({"id": str(uuid.uuid4()), "actor": {"account": {"homePage": "https://lms.example", "name": "s1"}},
                       "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
                       "object": {"id": "https://lms.example/activities/a"}, **extra})


def test_a_commit_failing_in_any_way_removes_the_rows_so_the_retry_applies(tmp_path):
    """Not only a DomainError: whatever the events' commit raises, the request's rows go again, so
    the client's retry applies the statement instead of being told it is "already stored"."""
    import asyncio

    store, _, desk, cred = one_student_class(tmp_path / "db.duckdb")
    done = _statement("completed")
    real = desk._commit.append

    async def broken(events):
        raise RuntimeError("the log's thread pool went away")

    async def run():
        desk._commit.append = broken
        with pytest.raises(RuntimeError):
            await desk.ingest([done], "xapi", cred["key"])
        assert store.counts()["xapi_statements"] == 0
        desk._commit.append = real
        return await desk.ingest([done], "xapi", cred["key"])

    retry = asyncio.run(run())
    assert retry["applied"] == 1 and retry["results"][0]["note"] == "applied"
    assert store.counts()["student_activity_log"] == 1
    store.close()


def test_rows_stored_by_a_request_cut_off_by_a_crash_are_undone_at_the_next_start(tmp_path):
    """The process dies after the rows were saved, before their events were committed (Ray retries
    the call on the restarted actor): the restart removes rows whose effect is not in the log, so the
    retry applies the statement and the voider's marker instead of answering "already stored"."""
    import asyncio

    from engine import voiding, xapi, xapi_store
    from engine.course import FoldParams
    from engine.xapi_ingest import plan

    store, registry, desk, cred = one_student_class(tmp_path / "db.duckdb")
    kept, lost = _statement("completed"), _statement("answered", result={"success": True})
    asyncio.run(desk.ingest([kept], "xapi", cred["key"]))
    voider = xapi.check({"actor": {"mbox": "mailto:lms@example.com"},
                         "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                         "object": {"objectType": "StatementRef", "id": kept["id"]}})
    caller = desk.caller("xapi", cred["key"])
    for batch in ([lost], [voider]):  # saved, then the process dies before commit.append
        cur = store.cursor()
        ids = [st["id"] for st in batch] + [kept["id"]]
        xapi_store.save(cur, plan(batch, *xapi_store.known(cur, ids), registry.catalog, caller, 1.0))
        cur.close()
    assert store.counts()["xapi_statements"] == 3
    store.close()

    store, registry, desk = desk_on(tmp_path / "db.duckdb")  # the restarted actor
    assert store.counts()["xapi_statements"] == 1  # `kept` stays (its event is in the log), not voided
    cur = store.cursor()
    assert cur.execute("SELECT voided_by FROM xapi_statements").fetchone()[0] is None
    again = asyncio.run(desk.ingest([lost, voider], "xapi", cred["key"]))
    assert again["applied"] == 2  # the answer and the voiding marker
    state = voiding.refold("c1", "s1", voiding.student_log(cur, "c1", "s1", 2**62), FoldParams(1, 180.0))
    assert state.completion(FoldParams(1, 180.0)) == 0.0 and state.activities["a"].attempts == 1
    store.close()


def test_a_restart_keeps_every_statement_whose_effect_is_in_the_log(tmp_path):
    """Applied, voided, voided twice (the second voider commits no marker), voided before arriving,
    stored only: all stay at a restart."""
    import asyncio

    from engine import xapi

    store, _, desk, cred = one_student_class(tmp_path / "db.duckdb")

    def voider(target):
        return xapi.check({"actor": {"mbox": "mailto:lms@example.com"},
                           "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
                           "object": {"objectType": "StatementRef", "id": target["id"]}})

    kept, voided, early = _statement("completed"), _statement("answered", result={"success": True}), _statement("completed")

    async def run():
        await desk.ingest([kept, voided, _statement("experienced")], "xapi", cred["key"])
        await desk.ingest([voider(voided)], "admin", "admin")
        await desk.ingest([voider(voided)], "admin", "admin")
        await desk.ingest([voider(early)], "admin", "admin")
        await desk.ingest([early], "xapi", cred["key"])

    asyncio.run(run())
    before = store.counts()["xapi_statements"]
    store.close()
    store, _, _ = desk_on(tmp_path / "db.duckdb")
    assert store.counts()["xapi_statements"] == before == 7
    store.close()
