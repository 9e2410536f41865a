"""The EventLog's part in communication: chat, messages, receipts, the work-view consent.

Mixed into the EventLog actor (the DuckDB owner): everything durable is
written here first (chat messages, message interventions, receipts, consents),
then routed live through the hub that owns the course, to the student's inbox
or the professor's. Callers (Serve routes) have already checked who is asking;
this checks that the course and student exist and fit together.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from actors.topology import DomainError
from engine import chat, holdout, interventions, messaging, outcomes
from engine.comms_store import CommsStore
from engine.course import Course
from engine.events import iso

TIME_FIELDS = ("created_at", "delivered_at", "read_at", "ts")
log = logging.getLogger(__name__)
PRIVATE = ("holdout", "status_before", "bulk", "randomized", "send_id", "holdout_share")


def wire(record: dict[str, Any]) -> dict[str, Any]:
    """Epoch times as ISO-8601 for clients."""
    return {k: (iso(v) if k in TIME_FIELDS and isinstance(v, (int, float)) else v) for k, v in record.items()}


def student_frame(record: dict[str, Any]) -> dict[str, Any]:
    """What the student receives of an intervention (not how they were chosen)."""
    return {"type": "intervention", **{k: v for k, v in wire(record).items() if k not in PRIVATE}}


class EventLogComms:
    """Uses the EventLog's ``catalog``, ``_store`` and ``_handles``."""

    def _comms(self) -> CommsStore:
        if not hasattr(self, "_comms_store"):
            self._comms_store = CommsStore(self._store)
            self._consents: set[tuple[str, str]] = self._comms_store.consents()
        return self._comms_store

    def _thread_of(self, course_id: str, student_id: str) -> Course:
        course = self.catalog.courses.get(course_id)
        if course is None:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        if not self.catalog.enrolled(course_id, student_id):
            raise DomainError(404, "student_id", f"student '{student_id}' is not in '{course_id}'")
        return course

    async def _course_now(self, course: Course) -> float:
        """Now on the course's clock, for stamping help (``interventions.stamped_at``): the wall clock
        of a live course; an event-clock course's watermark, which its hub keeps."""
        if course.clock == "live":
            return time.time()
        watermark = await self._handles.hub_for(course.course_id).clock_now.remote(course.course_id)
        return interventions.stamped_at(course, watermark, time.time())

    @staticmethod
    def _domain(exc: messaging.MessagingError) -> DomainError:
        return DomainError(exc.status, exc.field, exc.error, exc.errors)

    # -- chat -------------------------------------------------------------------------

    async def chat_send(self, course_id: str, student_id: str, side: str, text: Any) -> dict[str, Any]:
        """Store a chat message of the thread (course, student), then push it to the other side."""
        course = self._thread_of(course_id, student_id)
        try:
            message = chat.new_message(course, student_id, side, text)  # type: ignore[arg-type]
        except messaging.MessagingError as exc:
            raise self._domain(exc) from None
        await asyncio.to_thread(self._comms().save_chat, message)
        frame = {"type": "chat", **wire(message)}
        hub = self._handles.hub_for(course_id)
        if side == "professor":
            await hub.deliver.remote(student_id, frame)
        else:
            await hub.post_professor.remote(course.professor_id, frame)
        return wire(message)

    async def chat_thread(self, course_id: str, student_id: str, limit: int = 200,
                          before: float | None = None) -> list[dict[str, Any]]:
        self._thread_of(course_id, student_id)
        rows = await asyncio.to_thread(self._comms().thread, course_id, student_id, limit, before)
        return [wire(r) for r in rows]

    # -- receipts ---------------------------------------------------------------------

    async def mark_receipts(self, role: str, recipient_id: str, ids: list[str], what: str) -> dict[str, Any]:
        """Delivered/read receipts from the recipient (a ``role``, "student" or "professor", and an
        id: the two may share an id); the sender hears of each change live.

        Receipts come in bursts (a bulk message reaches a class at once), so they are group-committed:
        whatever queued while a transaction ran goes into the next one.
        """
        if what not in ("delivered", "read"):
            raise DomainError(422, "state", "delivered or read")
        if role not in ("student", "professor"):
            raise DomainError(422, "role", "student or professor")
        if not hasattr(self, "_receipts_pending"):
            self._receipts_pending: list[tuple[str, str, list[str], str, asyncio.Future]] = []
            self._receipts_task: asyncio.Task | None = None
        done = asyncio.get_running_loop().create_future()
        self._receipts_pending.append((role, recipient_id, list(ids), what, done))
        if self._receipts_task is None or self._receipts_task.done():
            self._receipts_task = asyncio.get_running_loop().create_task(self._flush_receipts())
        return await done

    async def _flush_receipts(self) -> None:
        while self._receipts_pending:
            batch, self._receipts_pending = self._receipts_pending, []
            at = time.time()
            try:
                changed, chats, changed_ivs = await asyncio.to_thread(
                    self._comms().mark_many, [(role, r, ids, what) for role, r, ids, what, _ in batch], at)
            except Exception as exc:  # noqa: BLE001 (handed to every caller waiting on this batch)
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (*_, done), one in zip(batch, changed):
                if not done.done():
                    done.set_result({"chat": one["chat"], "interventions": one["intervention"], "at": iso(at)})
            try:
                await self._announce_receipts(chats, changed_ivs)
            except Exception:
                log.warning("receipts stored but not announced live", exc_info=True)

    async def _announce_receipts(self, chats: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        """Tell each sender: the updated chat message, or a receipt frame for an intervention."""
        to_students: dict[int, list] = {}
        to_professors: dict[int, list] = {}
        topology = self._handles.topology
        for m in chats:
            frame = {"type": "chat", **wire(m)}
            hub = topology.hub_of(m["course_id"])
            if m["from"] == "student":
                to_students.setdefault(hub, []).append((m["sender_id"], frame))
            else:
                to_professors.setdefault(hub, []).append((m["sender_id"], frame))
        for r in changed:
            to_professors.setdefault(topology.hub_of(r["course_id"]), []).append(
                (r["professor_id"], {"type": "receipt", **wire(r)}))
        # a read intervention no longer counts as "ignored" for the escalation rule
        reads = [r for r in changed if r.get("read_at") and r.get("student_id")]
        await asyncio.gather(*(self._handles.hub(h).deliver_many.remote(items) for h, items in to_students.items()),
                             *(self._handles.hub(h).post_professor_many.remote(items)
                               for h, items in to_professors.items()),
                             *(self._handles.hub_for(r["course_id"]).note_read.remote(
                                 r["course_id"], r["student_id"], r["intervention_id"]) for r in reads))

    # -- one-click and bulk messages ------------------------------------------------------

    async def send_messages(self, professor_id: str, body: Any) -> dict[str, Any]:
        """A message intervention per recipient (explicit, all, or a live-view filter), in one transaction."""
        course_id = body.get("course_id") if isinstance(body, dict) else None
        course = self.catalog.courses.get(str(course_id))
        if course is None:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        live = await self._handles.hub_for(course.course_id).live_progress.remote(course.course_id)
        try:  # no holdout in the request: the course's configured one
            plan = messaging.plan(body, course, live["students"],
                                  default_holdout=self.catalog.config(course.course_id).intervention_holdout)
        except messaging.MessagingError as exc:
            raise self._domain(exc) from None
        status = {s["student_id"]: s["status"] for s in live["students"]}
        now = await self._course_now(course)

        def record(sid: str, text: str) -> dict[str, Any]:
            return {"intervention_id": f"iv_{uuid.uuid4().hex}", "course_id": course.course_id,
                    "student_id": sid, "professor_id": professor_id, "kind": "message", "message": text,
                    "activity_id": plan["activity_id"], "template": plan["template"],
                    "status_before": status.get(sid), "bulk": len(plan["send"]) + len(plan["hold"]) > 1,
                    "created_at": now}

        sent = [record(sid, text) for sid, text in plan["send"].items()]
        held = [record(sid, text) for sid, text in plan["hold"].items()]
        holdout.stamp(sent + held, set(plan["hold"]), plan["holdout_share"])
        await asyncio.to_thread(self._comms().save_interventions, sent + held)
        if sent:
            await self._handles.hub_for(course.course_id).deliver_many.remote(
                [(r["student_id"], student_frame(r)) for r in sent])
        return {"course_id": course.course_id, "count": len(sent), "holdout_share": plan["holdout_share"],
                "sent": [{"student_id": r["student_id"], "intervention_id": r["intervention_id"]} for r in sent],
                "held_out": [{"student_id": r["student_id"], "intervention_id": r["intervention_id"]}
                             for r in held]}

    async def inbox(self, student_id: str) -> list[dict[str, Any]]:
        """The student's interventions with receipts; held-out records and how they were chosen stay hidden.
        An extension carries ``due_at``: the activity's due date for this student now (all extensions)."""
        rows = await asyncio.to_thread(self._comms().inbox, student_id)
        due: dict[tuple[str, str], str | None] = {}
        for course_id in sorted({r["course_id"] for r in rows if r["kind"] == "extension"}):
            for d in await self._due_dates(course_id, student_id):
                due[(course_id, d["activity_id"])] = d["due_at"]
        return [{k: v for k, v in wire(r).items() if k not in PRIVATE}
                | ({"due_at": due.get((r["course_id"], r.get("activity_id")))} if r["kind"] == "extension" else {})
                for r in rows]

    async def due_dates(self, course_id: str, student_id: str) -> list[dict[str, Any]]:
        """The student's due dates in the course, extensions applied (engine/interventions.due_dates)."""
        self._thread_of(course_id, student_id)
        return await self._due_dates(course_id, student_id)

    async def _due_dates(self, course_id: str, student_id: str) -> list[dict[str, Any]]:
        course = self.catalog.courses.get(course_id)
        if course is None:
            return []
        records = await asyncio.to_thread(self._comms().course_interventions, course_id, 100_000, student_id)
        return [d | {k: iso(d[k]) if d[k] is not None else None for k in ("due_at", "declared_due_at")}
                for d in interventions.due_dates(course, records)]

    async def course_interventions(self, course_id: str, limit: int = 200,
                                   student_id: str | None = None) -> list[dict[str, Any]]:
        """The course's interventions (or one student's) with receipts and their measured outcome."""
        if course_id not in self.catalog.courses:
            raise DomainError(404, "course_id", f"unknown course '{course_id}'")
        rows = await asyncio.to_thread(self._comms().course_interventions, course_id, limit, student_id)
        events = await asyncio.to_thread(self._comms().events_of, course_id,
                                         sorted({r["student_id"] for r in rows}))
        return [wire(r) | {"outcome": outcomes.outcome(r, events.get(r["student_id"], []))} for r in rows]

    # -- live work view -----------------------------------------------------------------

    async def work_consent(self, course_id: str, student_id: str, consent: Any) -> dict[str, Any]:
        """Store the student's consent, then tell the hub (which checks it on every shared state)."""
        course = self._thread_of(course_id, student_id)
        if not isinstance(consent, bool):
            raise DomainError(422, "consent", "must be true or false")
        self._comms()
        await asyncio.to_thread(self._comms_store.set_consent, course_id, student_id, consent)
        (self._consents.add if consent else self._consents.discard)((course_id, student_id))
        await self._handles.hub_for(course_id).set_work_consent.remote(
            course.professor_id, course_id, student_id, consent, wire(chat.stopped_sharing(course_id, student_id)))
        return {"course_id": course_id, "student_id": student_id, "consent": consent}

    async def help_history_for_hub(self, students: dict[str, list[str]]) -> dict[str, dict[str, list[tuple]]]:
        """The help these students (by course) got (engine/comms_store.help_history): a rebuilt hub
        counts it towards escalation again for those struggling."""
        return await asyncio.to_thread(self._comms().help_history, students)

    async def work_consents_for_hub(self, hub_index: int) -> list[tuple[str, str]]:
        self._comms()
        return [k for k in self._consents if self._topology.hub_of(k[0]) == hub_index]

    async def work_view(self, course_id: str, student_id: str) -> dict[str, Any]:
        """What a professor sees when they start watching: consent and the latest state."""
        self._thread_of(course_id, student_id)
        self._comms()
        consent = (course_id, student_id) in self._consents
        state = await self._handles.hub_for(course_id).latest_work_state.remote(course_id, student_id) \
            if consent else None
        return {"course_id": course_id, "student_id": student_id, "consent": consent, "state": state}
