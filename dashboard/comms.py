"""Talking to students: the chat panel, the live work view, the intervention log with
receipts and outcomes, and bulk messages to a filtered part of the class.

Display and API calls only: recipients, templates and receipts are the API's.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.api_client import STALE, ApiClient, ApiRefused, ApiUnavailable, last_known
from dashboard.presentation import STATUS, STATUS_ORDER, class_names, utc_time

EVERYONE = "Everyone in the class"
FILTERED = "A status (optionally on one activity)"
CHOSEN = "Students I pick"


def _state(m: dict) -> str:
    return "✓✓ read" if m.get("read_at") else "✓ delivered" if m.get("delivered_at") else "· sent"


@st.fragment(run_every=2)
def chat_panel(client: ApiClient, course_id: str, student_id: str, name: str) -> None:
    """The thread with one student, refreshed every 2 s; delivered/read ticks on our messages."""
    thread = st.container(height=260, border=True, key=f"thread-{student_id}")  # filled after a send
    with st.form(key=f"chat-form-{student_id}", border=False):
        st.text_input("Message", key=f"chat-text-{student_id}", placeholder=f"Write to {name}…")
        st.form_submit_button("Send to chat", on_click=_send_chat, args=(client, course_id, student_id))
    if failed := st.session_state.get(f"chat-error-{student_id}"):  # until the next send
        st.error(failed)
    try:
        messages = client.chat(course_id, student_id)
    except (ApiUnavailable, ApiRefused) as exc:
        thread.warning(f"Chat unavailable: {exc}")
        return
    with thread:
        if not messages:
            st.caption(f"No messages with {name} yet.")
        for m in messages:
            mine = m["from"] == "professor"
            with st.chat_message("assistant" if mine else "user", avatar="🧑‍🏫" if mine else "🧑‍🎓"):
                st.markdown(m["text"])
                st.caption(f"{utc_time(m['created_at'])}" + (f" · {_state(m)}" if mine else ""))


def _send_chat(client: ApiClient, course_id: str, student_id: str) -> None:
    """The send button's callback (it runs before the panel is drawn again): a sent message clears
    the input; an unsent one stays in it, with an error that stays until the next send."""
    key, error_key = f"chat-text-{student_id}", f"chat-error-{student_id}"
    st.session_state.pop(error_key, None)
    text = st.session_state.get(key) or ""
    if not text.strip():
        return
    try:
        client.chat_send(course_id, student_id, text)
    except ApiRefused as exc:
        st.session_state[error_key] = f"Not sent: {exc.message}. Your message is still in the box."
    except ApiUnavailable:
        st.session_state[error_key] = ("Not sent: the API is not answering. Your message is still in the box; "
                                       "send it again in a moment.")
    else:
        st.session_state[key] = ""


@st.fragment(run_every=2)
def work_view_panel(client: ApiClient, course_id: str, student_id: str) -> None:
    """What the student is working on right now, if they chose to share it (the API sends no state
    without consent; it audit-logs these 2-second asks as one row a minute)."""
    try:
        view = client.work_view(course_id, student_id)
    except (ApiUnavailable, ApiRefused) as exc:
        st.warning(f"Work view unavailable: {exc}")
        return
    if not view["consent"]:
        st.caption("🔒 The student has not shared their work. They can turn sharing on in their client; "
                   "nothing is shown without their consent.")
        return
    state = view["state"]
    if not state:
        st.caption("👀 Sharing is on; waiting for the student's next step.")
        return
    a, b = st.columns(2)
    a.metric("Activity", state.get("activity_id") or "-")
    b.metric("Step", str(state.get("step") if state.get("step") is not None else "-"))
    st.code(state.get("answer") or "(no answer yet)", language=None)
    st.caption(f"👀 shared by the student · updated {utc_time(state.get('ts'))}")


def intervention_log(client: ApiClient, course_id: str, student_id: str) -> None:
    """This student's interventions with receipts and what happened after each."""
    try:
        items = client.course_interventions(course_id, student_id)  # theirs, not the course's newest 200
    except (ApiUnavailable, ApiRefused) as exc:
        st.warning(f"Interventions unavailable: {exc}")
        return
    if not items:
        st.caption("None yet.")
        return
    rows = [{"sent": utc_time(i["created_at"]), "kind": i["kind"], "message": i.get("message") or "",
             "state": "held out (not sent)" if i["holdout"] else _state(i),
             "status then": i.get("status_before") or "", "errors before": i["outcome"]["error_rate_before"],
             "errors after": i["outcome"]["error_rate_after"],
             "responded (s)": i["outcome"]["responded_after_s"],
             "improved": {True: "yes", False: "no", None: "not yet"}[i["outcome"]["improved"]]} for i in items]
    st.dataframe(pd.DataFrame(rows), width="stretch", hide_index=True)


def bulk_panel(client: ApiClient, course: dict, students: list[dict], projection: bool) -> None:
    """Message the whole class, everyone in a status (e.g. struggling on one activity), or a pick."""
    course_id = course["course_id"]
    try:  # the last answers while the API restarts: a click on Send still runs and says "Not sent"
        templates, fresh = last_known(st.session_state, "templates", client.message_templates)
        config, fresh_config = last_known(st.session_state, f"config-{course_id}", lambda: client.config(course_id))
    except (ApiUnavailable, ApiRefused) as exc:
        st.warning(f"Messaging unavailable: {exc}")
        return
    if not (fresh and fresh_config):
        st.caption(STALE)
    templates = {t["template_id"]: t for t in templates}
    course_holdout = float(config.get("intervention_holdout") or 0.0)
    activities = {a["activity_id"]: a["title"] for a in course["activities"]}
    k = f"bulk-{course_id}"  # every key carries the course: what was typed for one is not sent to another
    target = st.radio("To", [FILTERED, EVERYONE, CHOSEN], horizontal=True, key=f"{k}-target")
    to: object = "all"
    if target == FILTERED:
        left, right = st.columns(2)
        status = left.selectbox("Status", STATUS_ORDER, format_func=lambda s: STATUS[s][2], key=f"{k}-status")
        activity = right.selectbox("On activity", ["(any)", *activities],
                                   format_func=lambda a: activities.get(a, a), key=f"{k}-activity")
        to = {"status": status} | ({} if activity == "(any)" else {"activity_id": activity})
        matching = [s for s in students if s["status"] == status
                    and (activity == "(any)" or s["current_activity_id"] == activity)]
        st.caption(f"{len(matching)} student(s) match right now.")
    elif target == CHOSEN:
        names = class_names(students, projection)
        to = st.multiselect("Students", list(names), format_func=names.get, key=f"{k}-chosen")
    template = st.selectbox("Template", ["(none)", *templates],
                            format_func=lambda t: templates[t]["title"] if t in templates else t, key=f"{k}-template")
    default = templates[template]["text"] if template in templates else ""
    text = st.text_area("Text ({first_name}, {activity} are filled in per student)", default,
                        key=f"{k}-text-{template}", max_chars=4000)
    holdout = st.slider("Hold out for comparison", 0.0, 0.5, min(max(course_holdout, 0.0), 0.5), 0.05,
                        key=f"{k}-holdout",
                        help="A random share of the recipients is recorded but not sent, so the message's "
                             f"effect can be measured. Starts at this course's holdout ({course_holdout:.0%}, "
                             "Settings).")
    if st.button("📣 Send to group", key=f"{k}-send", disabled=not text.strip() or to == []):
        body = {"course_id": course_id, "to": to, "text": text, "holdout": holdout}
        if template in templates:
            body["template"] = template
        try:
            done = client.send_messages(body)
            held = f", {len(done['held_out'])} held out" if done["held_out"] else ""
            st.success(f"Sent to {done['count']} student(s){held}.")
        except ApiRefused as exc:
            st.error(f"Not sent: {exc.message}")
        except ApiUnavailable:
            st.error("Not sent: the API is not answering; try again in a moment.")
