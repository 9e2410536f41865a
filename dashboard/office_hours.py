"""Office hours (the queue, take / finish), peer-help groups (suggest, edit, push) and
notification settings. Display and API calls only: the rules live behind the API."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from dashboard.api_client import STALE, ApiClient, ApiRefused, ApiUnavailable, last_known
from dashboard.presentation import class_names, minutes, name_of

QUEUE_REFRESH_S = 3  # the queue redraws itself this often: new arrivals, waiting times
HIDDEN = "details hidden in projection-safe mode"  # an API error text can name a student

CHANNELS = {"in_app": "In the dashboard", "email": "Email", "webhook": "Webhook"}


def _masked(target: str | None) -> str | None:
    """A webhook URL as scheme and host only (its path or query may hold a secret); addresses as they are."""
    if not target or "://" not in target:
        return target
    scheme, rest = target.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0].rsplit('@', 1)[-1]}/…"


def _roster(client: ApiClient, course_id: str, projection: bool) -> dict[str, str]:
    """The course's students as the live class names them (class pseudonyms in projection mode)."""
    try:
        return class_names(client.live_progress(course_id)["students"], projection)
    except (ApiUnavailable, ApiRefused):
        return {}


def _name(row: dict, names: dict[str, str], projection: bool) -> str:
    if projection or row["student_id"] in names:
        return name_of(row["student_id"], names, projection)
    return row.get("name") or row["student_id"]


def _problem(exc: Exception, projection: bool) -> str:
    """An API error as shown: verbatim, or generic on a projector."""
    if isinstance(exc, ApiUnavailable):
        return "the API is not answering; try again in a moment"
    return HIDDEN if projection else getattr(exc, "message", str(exc))


def _act(call, done: str, projection: bool) -> bool:
    """Run an API action and say what happened (after the caller's rerun); True when it was done."""
    try:
        call()
    except (ApiRefused, ApiUnavailable) as exc:
        st.session_state["oh_flash"] = ("error", f"Not done: {_problem(exc, projection)}")
        return False
    st.session_state["oh_flash"] = ("success", done)
    return True


def page(client: ApiClient, course: dict, projection: bool) -> None:
    course_id = course["course_id"]
    kind, text = st.session_state.pop("oh_flash", (None, None))
    if kind:
        getattr(st, kind)(text)
    queue_panel(client, course_id, projection)
    st.divider()
    groups_panel(client, course, projection)


@st.fragment(run_every=QUEUE_REFRESH_S)
def queue_panel(client: ApiClient, course_id: str, projection: bool) -> None:
    """The queue, redrawn every few seconds on its own (outside the page's error guard, so it answers
    its own errors)."""
    st.subheader("Office hours")
    try:
        q = client.office_hours(course_id)
    except (ApiRefused, ApiUnavailable) as exc:
        st.warning(f"The queue is not available right now ({_problem(exc, projection)}).")
        return
    names = _roster(client, course_id, projection) if projection else {}  # rows carry the real names
    left, mid, right = st.columns(3)
    left.metric("Waiting", len(q["waiting"]))
    mid.metric("Typical help", minutes(q["typical_help_s"]),
               help="median of recent sessions" if q["history_size"] else "default until there is history")
    right.metric("Maximum help", minutes(q["max_help_s"]))
    for h in q["in_progress"]:
        cols = st.columns([4, 1])
        flag = " ⏰ **over the maximum**" if h["over_time"] else ""
        cols[0].markdown(f"Helping **{_name(h, names, projection)}** for {minutes(h['elapsed_s'])}"
                         f"{'' if projection else ' — ' + (h['topic'] or 'no topic')}{flag}")
        if cols[1].button("Finish", key=f"finish-{h['student_id']}"):
            _act(lambda sid=h["student_id"]: client.finish(course_id, sid), "Session finished.", projection)
            st.rerun()
    if not q["waiting"]:
        st.caption("Nobody is waiting.")
        return
    if st.button("Take next", type="primary"):
        _act(lambda: client.take_next(course_id), "Took the next student; a chat was opened for them.",
             projection)
        st.rerun()
    for w in q["waiting"]:
        cols = st.columns([4, 1])
        tier = " · helped today" if w["helped_today"] else ""
        topic = "" if projection else f" — {w['topic'] or 'no topic'}"
        cols[0].markdown(f"{w['position']}. **{_name(w, names, projection)}**{topic} · waiting "
                         f"{minutes(w['waited_s'])} · est. wait {minutes(w['estimated_wait_s'])}{tier}")
        if cols[1].button("Take", key=f"take-{w['student_id']}"):
            _act(lambda sid=w["student_id"]: client.take(course_id, sid), "Took the student.", projection)
            st.rerun()


def groups_panel(client: ApiClient, course: dict, projection: bool) -> None:
    st.subheader("Peer-help groups")
    activities = {a["activity_id"]: a["title"] for a in course.get("activities", [])}
    if not activities:
        st.caption("This course has no activities.")
        return
    cols = st.columns([3, 1, 1])
    activity = cols[0].selectbox("Students stuck on", list(activities), format_func=activities.get,
                                 key="pg_activity")
    size = cols[1].number_input("Group size", 2, 8, 3, key="pg_size")
    if cols[2].button("Suggest groups"):
        try:
            st.session_state["pg_suggestion"] = client.suggest_groups(course["course_id"], activity, int(size))
        except (ApiRefused, ApiUnavailable) as exc:
            st.error(f"No suggestion: {_problem(exc, projection)}")
    suggestion = st.session_state.get("pg_suggestion")
    if (not suggestion or suggestion["activity_id"] != activity
            or suggestion.get("course_id", course["course_id"]) != course["course_id"]):
        return  # a suggestion for another course (which may share activity ids) is not this one's
    st.caption(f"{suggestion['stuck']} stuck, {suggestion['helpers']} possible helpers; "
               f"repeated pairs: {suggestion['repeated_pairs']}; not placed: {len(suggestion['unassigned'])}")
    names = _roster(client, course["course_id"], projection) if projection else {}
    rows = [{"group": i + 1, "student_id": m["student_id"], "name": _name(m, names, projection),
             "role": m["role"], "accuracy": m["accuracy"]}
            for i, g in enumerate(suggestion["groups"]) for m in g["members"]]
    if not rows:
        st.caption("No groups to suggest (nobody stuck, or nobody who mastered it).")
        return
    columns = {"group": st.column_config.NumberColumn(min_value=1, step=1)}
    if projection:
        columns["student_id"] = None  # hidden on a projector (ids can be names); still used to push
    # keyed by the suggestion: a fixed-row editor keeps edits by row position, so a new suggestion
    # (same row count, other students) must start from a clean editor
    edited = st.data_editor(pd.DataFrame(rows), disabled=["student_id", "name", "accuracy"],
                            hide_index=True, key=f"pg_editor-{suggestion_key(suggestion)}",
                            column_config=columns)
    if st.button("Push groups to students"):
        groups, ungrouped = groups_to_push(edited)
        if ungrouped:
            st.error(f"Not pushed: give every student a group number ({', '.join(ungrouped)} has none).")
            return
        if _act(lambda: client.push_groups(course["course_id"], activity, groups),
                f"Pushed {len(groups)} groups; each student was notified.", projection):
            st.session_state.pop("pg_suggestion", None)  # not on failure: the table and its edits stay
        st.rerun()


def suggestion_key(suggestion: dict) -> str:
    """A short digest of one suggestion, to key the editor that edits it."""
    return hashlib.sha256(json.dumps(suggestion, sort_keys=True, default=str).encode()).hexdigest()[:12]


def groups_to_push(edited: pd.DataFrame) -> tuple[list[dict], list[str]]:
    """The edited table as groups, and the names of students left without a group number (grouping
    would silently leave them out of the push, so the caller refuses to push)."""
    placed = edited.dropna(subset=["group"])
    groups = [{"members": list(part["student_id"]), "helpers": list(part[part["role"] == "helper"]["student_id"])}
              for _, part in placed.groupby("group")]
    return groups, list(edited[edited["group"].isna()]["name"])


def notifications_page(client: ApiClient, course: dict, projection: bool, courses: list[dict]) -> None:
    """Preferences (the professor's), escalation (this course's), and the delivery log (all their courses)."""
    kind, text = st.session_state.pop("oh_flash", (None, None))
    if kind:
        getattr(st, kind)(text)
    st.subheader("Notifications")
    prefs, fresh = last_known(st.session_state, "notification-preferences", client.notification_preferences)
    if not fresh:
        st.caption(STALE)
    with st.form("notifications"):
        channels = st.multiselect("Channels", list(CHANNELS), default=prefs["channels"], format_func=CHANNELS.get)
        email = st.text_input("Email", prefs["email"] or "", placeholder=prefs.get("default_email") or "")
        if projection:  # the URL's path often carries a secret: not on a projector, not even in the box
            webhook = st.text_input("Webhook URL (http or https)", "", placeholder=_masked(prefs["webhook_url"]) or "",
                                    help="Hidden in projection-safe mode; leave empty to keep it.")
            webhook = webhook or prefs["webhook_url"] or ""
        else:
            webhook = st.text_input("Webhook URL (http or https)", prefs["webhook_url"] or "")
        priority = st.select_slider("Notify alerts at priority", [1, 2, 3], prefs["min_priority"],
                                    format_func={1: "high only", 2: "high and medium", 3: "all"}.get)
        # a float, as the API keeps it: saving another field must not write back a truncated 7.5
        quiet = st.number_input("Quiet period (minutes per student and kind)", 0.0, 1440.0,
                                float(prefs["quiet_minutes"]), step=1.0)
        staff = st.text_input("Support staff address for escalations", prefs["escalation_email"] or "")
        if st.form_submit_button("Save notification settings"):
            _act(lambda: client.set_notification_preferences({
                "channels": channels, "email": email or None, "webhook_url": webhook or None,
                "min_priority": priority, "quiet_minutes": quiet, "escalation_email": staff or None}),
                "Notification settings saved.", projection)
            st.rerun()

    st.subheader("Escalation and office hours (this course)")
    config, fresh = last_known(st.session_state, f"config-{course['course_id']}",
                               lambda: client.config(course["course_id"]))
    if not fresh:
        st.caption(STALE)
    with st.form(f"escalation-{course['course_id']}"):  # per course: no edits carried to another
        changes = {
            "escalate_after_ignored": st.number_input("Escalate after unread interventions (0: off)", 0, 50,
                                                      int(config["escalate_after_ignored"])),
            "escalate_after_minutes": st.number_input("Escalate when still struggling after (minutes, 0: off)",
                                                      0.0, 1440.0, float(config["escalate_after_minutes"])),
            "office_hours_max_help_minutes": st.number_input("Office hours: maximum help (minutes)", 0.05, 240.0,
                                                             float(config["office_hours_max_help_minutes"])),
        }
        if st.form_submit_button("Save escalation settings"):
            _act(lambda: client.configure(course["course_id"], changes), "Escalation settings saved.", projection)
            st.rerun()

    st.subheader("Delivery log")
    try:  # said here: the page's retry would rerun and drop what a Save above just reported
        log = client.notifications()
    except (ApiRefused, ApiUnavailable) as exc:
        st.warning(f"The delivery log is not available right now ({_problem(exc, projection)}).")
        return
    if not log:
        st.caption("No notifications yet.")
    else:  # the log covers every course of the professor: each student named from their own course's roster
        titles = {c["course_id"]: c["title"] for c in courses}
        names = {cid: _roster(client, cid, projection) for cid in dict.fromkeys(n.get("course_id") for n in log)
                 if isinstance(cid, str)}
        shown = pd.DataFrame(log)
        shown["student"] = [name_of(n["student_id"], names.get(n.get("course_id"), {}), projection)
                            if isinstance(n.get("student_id"), str) else "" for n in log]
        shown["course"] = [titles.get(n.get("course_id"), n.get("course_id") or "") for n in log]
        shown = shown[["kind", "course", "student", "channel", "target", "status", "attempts", "last_error"]]
        shown["target"] = shown["target"].map(_masked)  # a webhook URL may carry its own secret
        if projection:  # an error text can quote a URL or a student
            shown["last_error"] = shown["last_error"].map(lambda e: HIDDEN if e else e)
        st.dataframe(shown, hide_index=True)
