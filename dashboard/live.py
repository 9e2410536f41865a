"""The live class view: summary, alerts, student cards; refreshed every 2 s without flicker."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import streamlit as st

from dashboard import comms
from dashboard.api_client import ApiClient, ApiRefused, ApiUnavailable, last_known
from dashboard.presentation import PRIORITY, STATUS, STATUS_ORDER, class_names, freshness_badge, minutes

COLOR = {"struggling": "red", "idle": "orange", "active": "green", "not_started": "gray", "completed": "blue"}
MAX_ALERTS = 8
SORTS = {  # (student, the name on their card) -> sort key: by "Name", pseudonyms sort as pseudonyms
    "Needs attention": lambda s, name: (STATUS_ORDER.index(s["status"]), -s["risk"]),
    "Risk": lambda s, name: -s["risk"], "Completion": lambda s, name: -s["completion"],
    "Name": lambda s, name: name.lower()}


def page(client: ApiClient, course: dict, projection: bool) -> None:
    st.subheader(course["title"])
    c1, c2, c3 = st.columns([2, 2, 1])
    # kept for the session: opening a student's Details and coming back must not reset them
    shown = c1.multiselect("Show", STATUS_ORDER, default=STATUS_ORDER, format_func=lambda s: STATUS[s][2],
                           key="filter", persist_state="session")
    order = c2.selectbox("Sort by", list(SORTS), key="sort", persist_state="session")
    columns = c3.selectbox("Cards per row", [2, 3, 4, 6], index=2, key="per_row", persist_state="session")
    with st.expander("📣 Message a group of students"):
        try:  # the last class seen while the API restarts: a click on Send still runs and says "Not sent"
            students = last_known(st.session_state, f"class-{course['course_id']}",
                                  lambda: client.live_progress(course["course_id"])["students"])[0]
        except (ApiUnavailable, ApiRefused) as exc:
            st.warning(f"Cannot load the class: {exc}")
        else:
            comms.bulk_panel(client, course, students, projection)
    live_panel(client, course["course_id"], projection, shown, order, columns)


@st.fragment(run_every=2)
def live_panel(client: ApiClient, course_id: str, projection: bool, shown: list[str], order: str,
               per_row: int) -> None:
    key = f"live-{course_id}"
    try:
        data = client.live_progress(course_id)
        st.session_state[key] = (data, time.time())
        state = "🟢 connected"
    except (ApiUnavailable, ApiRefused) as exc:
        if key not in st.session_state:
            st.warning(f"Waiting for the API… ({exc})")
            return
        state = "🔴 reconnecting"
    data, fetched = st.session_state[key]
    students = data["students"]
    counts = {s: sum(1 for x in students if x["status"] == s) for s in STATUS_ORDER}

    cols = st.columns(len(STATUS_ORDER) + 1)
    for col, status in zip(cols, STATUS_ORDER):
        col.metric(f"{STATUS[status][1]} {STATUS[status][2]}", counts[status])
    cols[-1].metric("🔔 Open alerts", sum(1 for a in data["alerts"] if a["state"] == "open"))
    age = time.time() - fetched
    st.caption(f"{state} · {freshness_badge(data.get('lag_s'))} · class clock {_clock(data['as_of'])} · "
               f"data {age:.0f} s old{_risk_source(data)}")

    names = class_names(students, projection)
    grid, side = st.columns([3, 1.1])
    with side:
        alerts_panel(client, data, names, projection)
    visible = sorted((s for s in students if s["status"] in shown),
                     key=lambda s: SORTS[order](s, names[s["student_id"]]))
    with grid:
        for start in range(0, len(visible), per_row):
            row = st.columns(per_row)
            for col, s in zip(row, visible[start:start + per_row]):
                with col:
                    card(s, names[s["student_id"]])


def card(s: dict, name: str) -> None:
    _, icon, label = STATUS[s["status"]]
    with st.container(border=True, key=f"card-{s['student_id']}"):
        st.markdown(f"**{name}**  \n:{COLOR[s['status']]}[{icon} {label}]")
        st.progress(min(max(s["completion"], 0.0), 1.0), text=f"{s['completion']:.0%} complete")
        risk = f" · risk {s['risk']:.2f}" if s["risk"] >= 0.3 else ""
        st.caption(f"⏱ {minutes(s['time_on_task_s'])} · 📍 {s['current_activity_id'] or '-'}{risk}")
        if st.button("Details", key=f"open-{s['student_id']}", width="stretch"):
            st.session_state.selected_student = s["student_id"]
            st.session_state.goto = "Student"  # the sidebar radio picks this up before it is drawn
            st.rerun(scope="app")


def alerts_panel(client: ApiClient, data: dict, names: dict[str, str], projection: bool) -> None:
    alerts = sorted((a for a in data["alerts"] if a["state"] in ("open", "acknowledged")),
                    key=lambda a: (a["state"] != "open", a["priority"], a["ts"]))
    st.markdown(f"**🔔 Alerts ({len(alerts)})**")
    if not alerts:
        st.caption("No open alerts.")
    for a in alerts[:MAX_ALERTS]:
        with st.container(border=True, key=f"alert-{a['alert_id'].replace(':', '-')}"):
            message = a["kind"].replace("_", " ") if projection else a["message"]
            seen = " · acknowledged" if a["state"] == "acknowledged" else ""
            st.markdown(f"{PRIORITY[a['priority']]}{seen}  \n**{names.get(a['student_id'], '?')}**: {message}")
            ack, snooze = st.columns(2)
            if a["state"] == "open" and ack.button("Ack", key=f"ack-{a['alert_id']}", width="stretch"):
                _alert_action(lambda aid=a["alert_id"]: client.acknowledge(aid), "acknowledged", "Acknowledged")
            if snooze.button("Snooze", key=f"snooze-{a['alert_id']}", help="for 10 minutes",
                             width="stretch"):
                _alert_action(lambda aid=a["alert_id"]: client.snooze(aid, 10), "snoozed",
                              "Snoozed for 10 minutes")
    if len(alerts) > MAX_ALERTS:
        st.caption(f"… and {len(alerts) - MAX_ALERTS} more (highest priority first)")


def _alert_action(call, state: str, done: str) -> None:
    """Ack or snooze from inside the live fragment (which reruns on its own, outside the page's guard):
    an unknown alert (404) or an API restarting (503) is a toast, not a traceback. An alert that
    cleared meanwhile comes back unchanged (200, state ``resolved``): nothing was done, so say so."""
    try:
        alert = call()
        if alert.get("state") == state:
            st.toast(done)
        elif alert.get("state") == "resolved":
            st.toast("Not done: the alert already cleared")
        else:
            st.toast(f"Not done: the alert is {alert.get('state')}")
    except ApiRefused as exc:
        st.toast(f"Not done: {exc.message}")
    except ApiUnavailable:
        st.toast("Not done: the API is not answering; try again in a moment")


def _risk_source(data: dict) -> str:
    """Which risk the cards show: the trained model, or the rules and why (details under Analytics)."""
    model = data.get("risk_model")
    if not model:
        return ""
    if model["active"]:
        return f" · risk: trained model {model['name']}"
    return f" · risk: rules fallback ({model['fallback_reason']})"


def _clock(as_of: str | None) -> str:
    if not as_of:
        return "-"
    return datetime.fromisoformat(as_of).astimezone(UTC).strftime("%H:%M:%S UTC")
