"""The CourseHub's part in communication (mixed into ``CourseHub``).

A hub already holds each of its courses' live view, clock and student
inboxes, so it also keeps the course's office-hours queue (written through
to DuckDB by the EventLog, reloaded on restart), suggests and pushes peer
groups (the stuck students come from its live view), counts help sent to
struggling students for the escalation rule, and hands alerts that just
opened to the Notifier without waiting for it (never on the event path).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import ray

from actors.notifier import NOTIFIER
from actors.topology import DomainError
from engine import peer_groups
from engine.events import iso
from engine.office_hours import Entry, OfficeHoursQueue, QueueError

log = logging.getLogger(__name__)
NUDGE_CHECK_S = 1.0
UNSENT_KEEP = 1000


class SupportHub:
    views: dict[str, Any]
    _handles: Any
    _topology: Any

    # -- wiring (called from CourseHub) ---------------------------------------------

    def _init_comms(self) -> None:
        self._queues: dict[str, OfficeHoursQueue] = {}
        self._notifier = None
        self._finding_notifier: asyncio.Task | None = None
        self._unsent: list[dict[str, Any]] = []  # alerts waiting for the notifier handle
        self._last_nudge_check = 0.0
        self._reopening = False  # the next alerts opened are a rebuild's: they held before the restart

    async def _recover_comms(self) -> None:
        self._reopening = True
        await self._find_notifier()
        state = await self._handles.log.office_hours_state.remote(list(self.views))
        for course_id, s in state.items():
            self._queues[course_id] = OfficeHoursQueue(course_id, s["entries"], s["durations"], s["helped"])

    async def _recover_escalation(self) -> None:
        """After the rebuild's first assessment (who is struggling now): the help each struggling
        student got in this episode counts towards escalation again, then the alerts that follow
        open (still marked re-opened). Ends the rebuild's re-opening."""
        try:
            struggling = {cid: view.struggling() for cid, view in self.views.items()}
            history = await self._handles.log.help_history_for_hub.remote(struggling)
        except Exception:  # the live view matters more than the escalation count: recover without it
            log.warning("could not reload help history; escalation counts start afresh", exc_info=True)
            history = {}
        for course_id, students in history.items():
            view = self.views.get(course_id)
            for student_id, rows in students.items() if view is not None else ():
                view.restore_escalation(student_id, rows)
        try:
            self._refresh(force=True)
        finally:
            self._reopening = False

    def _comms_tick(self) -> None:
        """After each refresh: forward alerts that opened; nudge about over-long office-hours help."""
        items = []
        reopened = self._reopening  # a rebuild's: the notifier holds these for a day (engine/notify.py)
        for view in self.views.values():
            for alert in view.drain_opened():
                items.append(alert.to_wire() | {
                    "professor_id": view.course.professor_id, "course_title": view.course.title,
                    "student_name": view.names.get(alert.student_id, alert.student_id), "reopened": reopened})
        now = time.time()
        if now - self._last_nudge_check >= NUDGE_CHECK_S:
            self._last_nudge_check = now
            items += self._overtime_nudges(now)
        if not items:
            return
        if self._notifier is not None:
            self._notifier.alerts_opened.remote(items)  # fire and forget: delivery never blocks a hub
            return
        self._unsent = (self._unsent + items)[-UNSENT_KEEP:]
        if self._finding_notifier is None or self._finding_notifier.done():
            self._finding_notifier = asyncio.get_running_loop().create_task(self._find_notifier())

    async def _find_notifier(self) -> None:
        """Look the notifier up off the event loop (a name lookup is a blocking GCS call)."""
        try:
            self._notifier = await asyncio.to_thread(ray.get_actor, NOTIFIER, self._topology.namespace)
        except ValueError:
            log.warning("no notifier in this stack yet; notifications wait for it")
            return
        if self._unsent:
            self._notifier.alerts_opened.remote(self._unsent)
            self._unsent = []

    def _note_help(self, student_id: str, message: dict[str, Any]) -> None:
        """Interventions and messages sent to a student count towards escalation."""
        view = self.views.get(message.get("course_id"))
        ref = message.get("intervention_id") or message.get("message_id")
        if view is not None and ref and message.get("type") in ("intervention", "message") \
                and message.get("kind") != "office_hours":
            view.note_sent(student_id, ref)

    async def note_read(self, course_id: str, student_id: str, ref_id: str) -> None:
        """A read receipt for help sent to a student (it no longer counts as ignored)."""
        await self._ensure_ready()
        self._view(course_id).note_read(student_id, ref_id)

    # -- office hours ------------------------------------------------------------------

    def _queue(self, course_id: str) -> OfficeHoursQueue:
        self._view(course_id)
        return self._queues.setdefault(course_id, OfficeHoursQueue(course_id))

    def _max_help_s(self, course_id: str) -> float:
        return self._view(course_id).config.office_hours_max_help_minutes * 60

    def _student_entry(self, course_id: str, student_id: str, entry_id: str | None) -> Entry:
        queue = self._queue(course_id)
        if student_id not in self._view(course_id).names:
            raise DomainError(403, "course_id", f"you are not enrolled in '{course_id}'")
        try:
            if entry_id is not None:
                return queue.owned(entry_id, student_id)
        except QueueError as exc:
            raise DomainError(exc.status, exc.field, exc.error) from None
        entry = queue.entry_of(student_id)
        if entry is None:
            raise DomainError(404, "course_id", f"you are not in the office-hours queue of '{course_id}'")
        return entry

    def _place(self, course_id: str, entry: Entry, now: float) -> dict[str, Any]:
        queue = self._queue(course_id)
        waiting = queue.waiting()
        position = next((i + 1 for i, e in enumerate(waiting) if e.entry_id == entry.entry_id), None)
        wait = queue.estimated_waits(now).get(entry.entry_id)
        return {"entry_id": entry.entry_id, "course_id": course_id, "student_id": entry.student_id,
                "topic": entry.topic, "state": entry.state, "joined_at": iso(entry.joined_at),
                "position": position, "estimated_wait_s": None if wait is None else round(wait, 1),
                "defers": entry.defers}

    async def _oh(self, action):
        await self._ensure_ready()
        try:
            return action()
        except QueueError as exc:
            raise DomainError(exc.status, exc.field, exc.error) from None

    async def _persist(self, entry: Entry) -> None:
        await self._handles.log.save_office_hours_entry.remote(entry)

    async def office_hours_join(self, course_id: str, student_id: str, topic: str) -> tuple[dict[str, Any], bool]:
        await self._ensure_ready()
        if student_id not in self._view(course_id).names:
            raise DomainError(403, "course_id", f"you are not enrolled in '{course_id}'")
        entry, new = await self._oh(lambda: self._queue(course_id).join(student_id, topic))
        if new:
            await self._persist(entry)
        return self._place(course_id, entry, time.time()), new

    async def office_hours_mine(self, course_id: str, student_id: str) -> dict[str, Any]:
        await self._ensure_ready()
        return self._place(course_id, self._student_entry(course_id, student_id, None), time.time())

    async def office_hours_leave(self, course_id: str, student_id: str, entry_id: str | None) -> dict[str, Any]:
        await self._ensure_ready()
        entry = self._student_entry(course_id, student_id, entry_id)
        left = await self._oh(lambda: self._queue(course_id).leave(entry.entry_id))
        await self._persist(left)
        return {"entry_id": left.entry_id, "course_id": course_id, "state": left.state}

    async def office_hours_defer(self, course_id: str, student_id: str, entry_id: str | None) -> dict[str, Any]:
        await self._ensure_ready()
        entry = self._student_entry(course_id, student_id, entry_id)
        moved = await self._oh(lambda: self._queue(course_id).defer(entry.entry_id))
        await self._persist(moved)
        return self._place(course_id, moved, time.time())

    async def office_hours_remove(self, course_id: str, student_id: str) -> dict[str, Any]:
        """The professor takes a waiting student off the queue; the student is told."""
        await self._ensure_ready()
        entry = await self._oh(lambda: self._queue(course_id).remove(student_id))
        await self._persist(entry)
        await self._tell_left(entry, "removed", "Your professor took you off the office-hours queue.")
        return {"entry_id": entry.entry_id, "course_id": course_id, "student_id": student_id, "state": entry.state}

    async def office_hours_close(self, course_id: str) -> dict[str, Any]:
        """Office hours are over: every waiting student leaves the queue and is told."""
        await self._ensure_ready()
        left = await self._oh(lambda: self._queue(course_id).close())
        await asyncio.gather(*(self._persist(e) for e in left))
        for entry in left:
            await self._tell_left(entry, "closed", "Office hours have ended; you are no longer in the queue.")
        return {"course_id": course_id, "closed": [e.student_id for e in left],
                "in_progress": [e.student_id for e in self._queue(course_id).in_progress()]}

    async def _tell_left(self, entry: Entry, event: str, message: str) -> None:
        await self.deliver(entry.student_id, {
            "type": "message", "kind": "office_hours", "event": event, "course_id": entry.course_id,
            "entry_id": entry.entry_id, "message": message})

    async def office_hours_view(self, course_id: str) -> dict[str, Any]:
        await self._ensure_ready()
        view = self._queue(course_id).view(time.time(), self._max_help_s(course_id), self._view(course_id).names)
        for part in ("waiting", "in_progress"):
            for row in view[part]:
                for key in ("joined_at", "started_at"):
                    if key in row:
                        row[key] = iso(row[key])
        return view

    async def office_hours_take(self, course_id: str, professor_id: str, student_id: str | None) -> dict[str, Any]:
        await self._ensure_ready()
        entry = await self._oh(lambda: self._queue(course_id).take(professor_id, student_id))
        await self._persist(entry)
        session = {"entry_id": entry.entry_id, "course_id": course_id, "student_id": entry.student_id,
                   "name": self._view(course_id).names.get(entry.student_id, entry.student_id),
                   "topic": entry.topic, "started_at": iso(entry.started_at), "helped_by": professor_id,
                   "max_help_s": self._max_help_s(course_id)}
        await self.deliver(entry.student_id, {
            "type": "message", "kind": "office_hours", "event": "started", "course_id": course_id,
            "entry_id": entry.entry_id, "professor_id": professor_id, "topic": entry.topic,
            "chat_with": professor_id, "message": "It's your turn: your professor is with you now."})
        return session

    async def office_hours_finish(self, course_id: str, student_id: str) -> dict[str, Any]:
        await self._ensure_ready()
        entry = await self._oh(lambda: self._queue(course_id).finish(student_id))
        await self._persist(entry)
        await self.deliver(student_id, {
            "type": "message", "kind": "office_hours", "event": "finished", "course_id": course_id,
            "entry_id": entry.entry_id, "professor_id": entry.helped_by,
            "message": "Office-hours help has ended."})
        return {"entry_id": entry.entry_id, "course_id": course_id, "student_id": student_id,
                "state": entry.state, "duration_s": round(entry.ended_at - entry.started_at, 1)}

    def _overtime_nudges(self, now: float) -> list[dict[str, Any]]:
        items = []
        for course_id, queue in self._queues.items():
            view = self.views.get(course_id)
            if view is None:
                continue
            max_s = view.config.office_hours_max_help_minutes * 60
            for entry in queue.overdue(now, max_s):
                if entry.nudged:
                    continue
                nudged = queue.mark_nudged(entry.entry_id)
                self._handles.log.save_office_hours_entry.remote(nudged)
                name = view.names.get(entry.student_id, entry.student_id)
                items.append({"alert_id": f"{entry.entry_id}-overtime", "course_id": course_id,
                              "student_id": entry.student_id, "kind": "office_hours_overtime", "priority": 2,
                              "message": f"office-hours help for {name} has passed the "
                                         f"{max_s / 60:.0f} min maximum", "ts": iso(now),
                              "professor_id": view.course.professor_id, "course_title": view.course.title,
                              "student_name": name})
        return items

    # -- peer groups ---------------------------------------------------------------------

    async def peer_suggest(self, course_id: str, activity_id: str, size: int,
                           min_accuracy: float) -> dict[str, Any]:
        await self._ensure_ready()
        view = self._fresh_view(course_id)
        if not view.course.has_activity(activity_id):
            raise DomainError(422, "activity_id", f"unknown activity '{activity_id}' in course '{course_id}'")
        stats = await self._handles.log.peer_stats.remote(course_id, activity_id)
        completed = {s["student_id"] for s in stats["students"] if s["completed"]}
        since = {a.student_id: a.ts for a in view.alerts.active() if a.kind == "struggling"}
        stuck = sorted((sid for sid, a in view.assessments.items() if a.status == "struggling"
                        and view.summaries[sid].current_activity_id == activity_id and sid not in completed),
                       key=lambda sid: (since.get(sid, float("inf")), sid))  # longest stuck first
        available = {sid for sid, a in view.assessments.items() if a.status in ("active", "completed")}
        helpers = [peer_groups.Helper(s["student_id"], s["correct"] / s["attempts"], s["attempts"])
                   for s in stats["students"] if s["completed"] and s["attempts"] > 0
                   and s["correct"] / s["attempts"] >= min_accuracy and s["student_id"] in view.names
                   and s["student_id"] in available]  # not one who is struggling elsewhere, or gone idle
        accuracy = {h.student_id: round(h.accuracy, 3) for h in helpers}
        past = [peer_groups.pair(a, b) for a, b in stats["past_pairs"]]
        result = peer_groups.suggest(stuck, helpers, size, past)

        def member(sid: str, role: str) -> dict[str, Any]:
            return {"student_id": sid, "name": view.names.get(sid, sid), "role": role,
                    "accuracy": accuracy.get(sid)}
        return {"course_id": course_id, "activity_id": activity_id, "size": size, "min_accuracy": min_accuracy,
                "groups": [{"members": [member(g["helper"], "helper")] + [member(s, "stuck") for s in g["stuck"]],
                            "repeated_pairs": g["repeated_pairs"]} for g in result.groups],
                "unassigned": result.unassigned, "spare_helpers": result.spare_helpers,
                "repeated_pairs": result.repeated_pairs, "stuck": len(stuck), "helpers": len(helpers)}

    async def peer_push(self, course_id: str, activity_id: str | None, groups: Any, by: str) -> list[dict[str, Any]]:
        await self._ensure_ready()
        view = self._view(course_id)
        if activity_id is not None and not view.course.has_activity(activity_id):
            raise DomainError(422, "activity_id", f"unknown activity '{activity_id}' in course '{course_id}'")
        errors = peer_groups.check_groups(groups, view.names)
        if errors:
            raise DomainError(422, errors[0]["field"], errors[0]["error"], errors)
        stored = []
        for g in groups:
            helpers = set(g.get("helpers", []))
            members = [{"student_id": sid, "name": view.names.get(sid, sid),
                        "role": "helper" if sid in helpers else "member"} for sid in dict.fromkeys(g["members"])]
            stored.append({"group_id": f"pg_{uuid.uuid4().hex}", "course_id": course_id,
                           "activity_id": activity_id, "members": members})
        await self._handles.log.save_peer_groups.remote(course_id, activity_id, stored, by)
        for group in stored:
            for m in group["members"]:
                await self.deliver(m["student_id"], {"type": "group", **group, "your_role": m["role"]})
        return stored
