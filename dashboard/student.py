"""Student drill-down: where the student is, where they are stuck, and one click to help."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import comms
from dashboard import insight_charts as charts
from dashboard.api_client import STALE, ApiClient, ApiRefused, ApiUnavailable, last_known
from dashboard.presentation import STATUS, class_names, minutes, utc_time

TEMPLATES = {
    "message": "You're making progress — keep going! Ask me if anything is unclear.",
    "hint": "Try a smaller example first, then generalise.",
}


def page(client: ApiClient, course: dict, projection: bool) -> None:
    course_id = course["course_id"]
    try:  # kept: a Send clicked while an actor restarts still runs and says itself whether it worked
        live, fresh = last_known(st.session_state, f"live-{course_id}", lambda: client.live_progress(course_id))
    except (ApiUnavailable, ApiRefused) as exc:
        st.error(f"Cannot load the class: {exc}")
        return
    students = {s["student_id"]: s for s in live["students"]}
    if not students:
        st.info("No students on this course yet.")
        return
    names = class_names(students.values(), projection)
    ids = sorted(students, key=lambda sid: names[sid].lower())
    selected = st.session_state.get("selected_student")
    index = ids.index(selected) if selected in ids else 0
    sid = st.selectbox("Student", ids, index=index, format_func=names.get)
    st.session_state.selected_student = sid
    if projection:
        st.info("Drill-down details are hidden in projection-safe mode.")
        return
    detail, fresh_detail = last_known(st.session_state, f"student-{course_id}-{sid}",
                                      lambda: client.student(course_id, sid))
    if not (fresh and fresh_detail):
        st.caption(STALE)
    s = detail["student"]
    _, icon, label = STATUS[s["status"]]
    st.subheader(f"{s['name']} — {icon} {label}")
    a, b, c, d = st.columns(4)
    a.metric("Completion", f"{s['completion']:.0%}")
    b.metric("Time on task", minutes(s["time_on_task_s"]))
    c.metric("Current activity", s["current_activity_id"] or "-")
    d.metric("Risk", f"{s['risk']:.2f}")
    if s["reasons"]:
        st.warning("Why: " + "; ".join(s["reasons"]))

    titles = {act["activity_id"]: act["title"] for act in course["activities"]}
    rows = [{"activity": titles.get(k, k), "progress": v["progress"], "attempts": v["attempts"],
             "errors": v["errors"], "hints": v["hints"], "minutes": round(v["time_on_task_s"] / 60, 1)}
            for k, v in detail["activities"].items()]
    if rows:
        frame = pd.DataFrame(rows).set_index("activity")
        left, right = st.columns(2)
        left.caption("Progress per activity")
        left.bar_chart(frame[["progress"]], height=220)
        right.caption("Attempts and errors")
        right.bar_chart(frame[["attempts", "errors"]], height=220, stack=False)
        st.dataframe(frame, width="stretch")

    if detail["timeline"]:
        st.caption("Timeline (latest 100 events)")
        st.altair_chart(timeline(detail["timeline"], titles), width="stretch")

    st.markdown("#### Help now")
    interventions(client, course, s, detail.get("due_dates") or [])

    st.markdown("#### Interventions so far")
    comms.intervention_log(client, course_id, sid)

    chat_col, work_col = st.columns(2)
    with chat_col:
        st.markdown("#### 💬 Chat")
        comms.chat_panel(client, course_id, sid, s["name"])
    with work_col:
        st.markdown("#### 👀 Live work view")
        comms.work_view_panel(client, course_id, sid)


def timeline(items: list[dict], titles: dict[str, str]) -> alt.Chart:
    """The latest actions as dots by type on a UTC time axis (attempts show whether they were right)."""
    events = pd.DataFrame(items)
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    events["time_utc"] = charts.utc_tooltip(events["ts"])
    events["activity"] = events["activity_id"].map(lambda a: titles.get(a, a or "(presence)"))
    return alt.Chart(events).mark_circle(size=90).encode(
        x=charts.utc_x("ts"), y=alt.Y("activity:N", title=None),
        color=alt.Color("type:N", scale=alt.Scale(
            domain=["attempt", "hint_requested", "progress", "activity_started", "activity_completed", "heartbeat"],
            range=["#1f77b4", "#ff9f1c", "#2ca02c", "#9467bd", "#17becf", "#c7c7c7"])),
        shape=alt.Shape("correct:N", title="correct"),
        tooltip=[charts.UTC_TOOLTIP, "type", "activity", "correct", "progress"])


def extension_choices(activities: list[dict], current: str | None, due_dates: list[dict]) -> tuple[list[str], int]:
    """The activities an extension can go to, those with a due date (this student's) first, and the
    one offered: the current activity if it has a due date, else the first that has one."""
    due = {d["activity_id"] for d in due_dates if d.get("due_at")}
    ids = [a["activity_id"] for a in activities]
    ordered = [a for a in ids if a in due] + [a for a in ids if a not in due]
    if current in due or (not due and current in ordered):
        return ordered, ordered.index(current)
    return ordered, 0


def interventions(client: ApiClient, course: dict, s: dict, due_dates: list[dict]) -> None:
    """One button per kind, with the fields it needs prefilled."""
    sid, current = s["student_id"], s["current_activity_id"]
    titles = {a["activity_id"]: a["title"] for a in course["activities"]}
    due = {d["activity_id"]: d for d in due_dates}
    # only what the course declares as a simplified version of this activity (never the next, harder one)
    simpler = [a["activity_id"] for a in course["activities"]
               if current is not None and a.get("simplified_of") == current]
    bodies = {}
    c1, c2 = st.columns(2)
    with c1:
        text = st.text_input("Message", TEMPLATES["message"], key=f"msg-{sid}")
        bodies["message"] = {"kind": "message", "message": text}
        hint = st.text_input("Hint", TEMPLATES["hint"], key=f"hint-{sid}")
        bodies["hint"] = {"kind": "hint", "message": hint, "activity_id": current}
        url = st.text_input("Resource URL", "https://docs.python.org/3/tutorial/", key=f"url-{sid}")
        bodies["resource"] = {"kind": "resource", "resource_url": url, "activity_id": current}
    with c2:
        for d in due_dates:  # this student's, extensions applied
            moved = f" (declared {utc_time(d['declared_due_at'])}, +{d['extension_minutes']:g} min)" \
                if d["extension_minutes"] else ""
            st.caption(f"⏰ {d['title']}: due {utc_time(d['due_at'])}{moved}" if d["due_at"]
                       else f"⏰ {d['title']}: no due date (+{d['extension_minutes']:g} min given)")
        ext_left, ext_right = st.columns([3, 2])
        choices, first = extension_choices(course["activities"], current, due_dates)
        extend = ext_left.selectbox("Extension on", choices, index=first, key=f"ext-on-{sid}",
                                    format_func=lambda a: titles.get(a, a) + ("" if due.get(a, {}).get("due_at")
                                                                            else " (no due date)"))
        extra = ext_right.number_input("Extension (minutes)", 5, 10_080, 30, key=f"ext-{sid}")
        bodies["extension"] = {"kind": "extension", "extension_minutes": extra, "activity_id": extend}
        if simpler:
            easier = st.selectbox("Simplified version", simpler, key=f"alt-{sid}")
        else:
            easier = None
            st.caption(f"🪜 The course declares no simplified version of {titles.get(current, current)}."
                       if current else "🪜 No simplified version: the student has not started an activity.")
        bodies["simplified_version"] = {"kind": "simplified_version", "alternative_activity_id": easier,
                                        "activity_id": current}
    labels = {"message": "💬 Send message", "hint": "💡 Send hint", "resource": "📚 Push resource",
              "extension": "⏰ Give extension", "simplified_version": "🪜 Offer simplified version"}
    for col, (kind, label) in zip(st.columns(len(labels)), labels.items()):
        if col.button(label, key=f"do-{kind}-{sid}", width="stretch",
                      disabled=kind == "simplified_version" and easier is None):
            body = {k: v for k, v in bodies[kind].items() if v is not None}
            try:
                done = client.intervene(sid, {"course_id": course["course_id"], **body})
            except ApiRefused as exc:
                st.error(f"Not sent: {exc.message}")
                continue
            except ApiUnavailable:
                st.error("Not sent: the API is not answering; try again in a moment")
                continue
            if done.get("holdout"):  # the course's holdout drew this student: recorded, not delivered
                st.warning(f"{label.split(' ', 1)[1]}: held out, not sent. This course holds out a share of "
                           "students to measure what interventions do (Settings).")
            elif kind == "extension" and not due.get(extend, {}).get("due_at"):
                st.warning(f"Extension sent, but {titles.get(extend, extend)} has no due date: nothing moved.")
            else:
                st.toast(f"{label.split(' ', 1)[1]}: sent ({done['intervention_id'][:11]}…)")
