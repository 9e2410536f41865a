"""Actor classes run as plain objects with stand-in handles (no Ray): their guards against faults,
and rules that need no Ray to check.

Two pulls can overlap in one shard (a restarted log's first call, with ``prev_seq`` None, beside
an older call still pulling); each event must still be folded once. A refold that fails must stay
pending, so no snapshot checkpoints past its void marker. A hub whose refresh of one course fails
keeps refreshing the others.
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from actors import shard as shard_module
from actors.shard import StudentShard
from actors.topology import Topology
from engine.event_arrow import pack, to_arrow
from tests.factories import ev, params

Shard = StudentShard.__ray_metadata__.modified_class


class Call:
    """``handle.method.remote(...)`` over a plain coroutine function."""

    def __init__(self, fn) -> None:
        self.remote = fn


class FakeLog:
    def __init__(self) -> None:
        self.events = []
        self.snapshots = []
        self.pulls, self.fail_pulls, self.page = 0, set(), 50_000
        self.shard_events = Call(self._shard_events)
        self.load_snapshot = Call(self._nothing_stored)
        self.shard_voided = Call(self._no_voids)
        self.note_recovery = Call(lambda *a: None)
        self.fold_params = Call(self._params)
        self.student_log = Call(self._unavailable)
        self.write_snapshot = Call(self._write_snapshot)

    async def _shard_events(self, index, after, upto, limit=50_000):
        await asyncio.sleep(0.01)  # the log answers later: another call may run meanwhile
        self.pulls += 1
        if self.pulls in self.fail_pulls:
            raise RuntimeError("log unavailable")
        out = [e for e in self.events if e.seq > after and (upto is None or e.seq <= upto)]
        return out[:self.page], {"c1": (params(), {})}

    async def _nothing_stored(self, index):
        return 0, []

    async def _no_voids(self, index):
        return []

    async def _params(self, courses):
        return {"c1": (params(), {})}

    async def _unavailable(self, *args):
        raise RuntimeError("log unavailable")

    async def _write_snapshot(self, index, seq, rows):
        self.snapshots.append(seq)


@pytest.fixture(autouse=True)
def outside_ray(monkeypatch):
    """``was_restarted`` asks Ray's runtime context, which would start a Ray instance here."""
    monkeypatch.setattr(shard_module, "was_restarted", lambda: False)


def shard_on(fake: FakeLog) -> Shard:
    shard = Shard(0, Topology("t", 1, 1))
    hub = SimpleNamespace(apply_summaries=Call(lambda *a: asyncio.sleep(0)))
    shard._handles = SimpleNamespace(log=fake, hub=lambda i: hub)
    return shard


def test_two_pulls_at_once_fold_each_event_once():
    fake = FakeLog()
    empty = pack(to_arrow([]))

    async def run():
        shard = shard_on(fake)
        await shard.apply(empty, {}, None, 0)  # ready, nothing logged yet
        fake.events = [ev("attempt", correct=False, seq=i, event_id=f"x{i}") for i in (1, 2, 3)]
        await asyncio.gather(shard.apply(empty, {}, None, 3), shard.apply(empty, {}, None, 3))
        return shard

    shard = asyncio.run(run())
    assert shard.applied == 3
    assert shard.states[("c1", "s1")].activities["a1"].attempts == 3


def test_a_recovery_that_fails_part_way_starts_again_from_scratch():
    fake = FakeLog()
    fake.events = [ev("attempt", student, correct=False, seq=i, event_id=f"r{i}")
                   for i, student in enumerate(["s1", "s2", "s1", "s2"], start=1)]
    fake.page, fake.fail_pulls = 1, {3}  # events one per pull; the third pull fails

    async def run():
        shard = shard_on(fake)
        with pytest.raises(RuntimeError):
            await shard.apply(pack(to_arrow([])), {}, None, 4)
        await shard.apply(pack(to_arrow([])), {}, None, 4)  # recovers again, from the log's start
        return shard

    shard = asyncio.run(run())
    assert {k: s.activities["a1"].attempts for k, s in shard.states.items()} == {("c1", "s1"): 2, ("c1", "s2"): 2}


def test_a_refold_that_fails_stays_pending_and_holds_back_snapshots():
    fake = FakeLog()

    async def run():
        shard = shard_on(fake)
        await shard.apply(pack(to_arrow([])), {}, None, 0)
        shard._rebuild.add(("c1", "s1"))  # a void marker arrived for them
        with pytest.raises(RuntimeError):
            await shard._rebuild_students()
        return shard, await shard.snapshot()

    shard, written = asyncio.run(run())
    assert shard._rebuild == {("c1", "s1")}
    assert written == 0 and fake.snapshots == []


def test_one_course_whose_refresh_fails_does_not_stop_the_others():
    from actors.hub import CourseHub

    Hub = CourseHub.__ray_metadata__.modified_class
    hub = Hub(0, Topology("t", 1, 1))
    refreshed = []

    class View:
        def __init__(self, name: str, fails: bool) -> None:
            self.name, self.fails, self.dirty = name, fails, True
            self.clock = SimpleNamespace(mode="event")

        def refresh(self) -> None:
            if self.fails:
                raise ValueError("year 0 is out of range")
            refreshed.append(self.name)

        def drain_opened(self) -> list:
            return []

    hub.views = {"bad": View("bad", True), "good": View("good", False)}
    hub._refresh(force=True)
    hub._refresh(force=True)
    assert refreshed == ["good", "good"]


def test_help_sent_in_bulk_counts_towards_escalation_like_one_click_help():
    from actors.hub import CourseHub

    hub = CourseHub.__ray_metadata__.modified_class(0, Topology("t", 1, 1))
    noted = []
    hub.views = {"c1": SimpleNamespace(note_sent=lambda student, ref: noted.append((student, ref)))}

    async def run():
        hub._ready = asyncio.get_running_loop().create_future()
        hub._ready.set_result(True)  # recovered: no log to ask
        await hub.deliver_many([(s, {"type": "message", "course_id": "c1", "message_id": f"m-{s}"})
                                for s in ("s1", "s2")])

    asyncio.run(run())
    assert noted == [("s1", "m-s1"), ("s2", "m-s2")]


def test_a_helper_who_is_struggling_elsewhere_or_idle_is_not_suggested():
    from actors.hub import CourseHub

    hub = CourseHub.__ray_metadata__.modified_class(0, Topology("t", 1, 1))
    status = {"stuck": "struggling", "ok": "active", "done": "completed", "busy": "struggling", "gone": "idle"}
    view = SimpleNamespace(
        dirty=False, course=SimpleNamespace(has_activity=lambda a: True), alerts=SimpleNamespace(active=list),
        names={s: s for s in status}, assessments={s: SimpleNamespace(status=v) for s, v in status.items()},
        summaries={s: SimpleNamespace(current_activity_id="a1" if s == "stuck" else "a2") for s in status})
    hub.views = {"c1": view}

    async def peer_stats(course_id, activity_id):
        return {"past_pairs": [], "students": [
            {"student_id": s, "completed": s != "stuck", "correct": 9, "attempts": 10} for s in status]}

    hub._handles = SimpleNamespace(log=SimpleNamespace(peer_stats=Call(peer_stats)))

    async def run():
        hub._ready = asyncio.get_running_loop().create_future()
        hub._ready.set_result(True)
        return await hub.peer_suggest("c1", "a1", 3, 0.75)

    out = asyncio.run(run())
    helpers = {m["student_id"] for g in out["groups"] for m in g["members"] if m["role"] == "helper"}
    assert out["helpers"] == 2 and helpers <= {"ok", "done"} and out["stuck"] == 1


def test_a_dead_webhook_holds_a_few_connections_not_the_pool():
    from actors import notifier as notifier_module
    from engine.notify import Delivery

    notifier = notifier_module.Notifier.__ray_metadata__.modified_class(Topology("t", 1, 1),
                                                                          notifier_module.MailSettings())
    in_flight = {"dead.example": 0, "live.example": 0}
    most = {"dead.example": 0}
    never = asyncio.Event()

    class Http:
        async def post(self, url, json):
            host = url.split("/")[2]
            in_flight[host] += 1
            most["dead.example"] = max(most["dead.example"], in_flight["dead.example"])
            try:
                if host == "dead.example":
                    await never.wait()  # answers never (its timeout is the client's)
                return SimpleNamespace(status_code=200)
            finally:
                in_flight[host] -= 1

    notifier._http = Http()

    async def public(url, resolve_errors):  # *.example does not resolve; these stand for public hosts
        return False

    notifier._refused = public
    item = {"alert_id": "c1:a", "course_id": "c1", "student_id": "s1", "kind": "idle", "priority": 2,
            "professor_id": "p1"}

    async def run():
        dead = [asyncio.create_task(notifier._send(Delivery(f"n{i}", "webhook", "https://dead.example/h"), item))
                for i in range(20)]
        await asyncio.sleep(0.05)
        await asyncio.wait_for(notifier._send(Delivery("ok", "webhook", "https://live.example/h"), item), 1.0)
        for task in dead:
            task.cancel()
        await asyncio.gather(*dead, return_exceptions=True)

    asyncio.run(run())
    assert most["dead.example"] == notifier_module.PER_ENDPOINT


def test_a_course_given_more_activities_resends_its_students_completion():
    """Completion is over the course's activities: a student who finished the only one was 100%
    done, and is 50% once a second one is declared (not only after their next event)."""
    from engine.course import FoldParams
    from engine.state import summaries_of

    fake = FakeLog()
    sent = []

    async def apply_summaries(rows, since):
        sent.extend(summaries_of(rows))

    async def run():
        shard = shard_on(fake)
        shard._handles.hub = lambda i: SimpleNamespace(apply_summaries=Call(apply_summaries))
        one = {"c1": (FoldParams(1, 180.0), {"a1": 5.0})}
        done = [ev("activity_completed", "s1", "a1", seq=1, event_id="d1")]
        await shard.apply(pack(to_arrow(done)), one, None, 1)
        await asyncio.sleep(0.2)  # the summary goes to the hub
        two = {"c1": (FoldParams(2, 180.0), {"a1": 5.0, "a2": 5.0})}
        assert await shard.course_changed("c1", two) == 1
        await asyncio.sleep(0.2)

    asyncio.run(run())
    assert [s.completion for s in sent] == [1.0, 0.5]
