"""classpulse dashboard: sign in, pick a course, watch the class, intervene.

Run with ``classpulse dashboard --api URL --port P [--token-file F]``; a client of
the public API only. Reads top to bottom: configuration, sign-in, sidebar, page.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import streamlit as st

from dashboard import insights, live, office_hours, ops, student
from dashboard.api_client import KNOWN, ApiClient, ApiRefused, ApiUnavailable, last_known

RETRY_S = 2.0  # an unavailable API is asked again this often
st.set_page_config(page_title="classpulse", page_icon="📈", layout="wide")
st.markdown("<style>.block-container{padding-top:2.2rem;max-width:100%}</style>", unsafe_allow_html=True)


def settings() -> argparse.Namespace:
    """--api / --token-file after ``--`` on the streamlit command line, else the environment."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", default=os.environ.get("CLASSPULSE_DASHBOARD_API", "http://127.0.0.1:8000"))
    ap.add_argument("--token-file", default=os.environ.get("CLASSPULSE_DASHBOARD_TOKEN_FILE"))
    args, _ = ap.parse_known_args(sys.argv[1:])
    return args


cfg = settings()
if "token" not in st.session_state:
    st.session_state.token = (Path(cfg.token_file).read_text().strip()
                              if cfg.token_file and Path(cfg.token_file).exists() else "")

# -- sign-in ----------------------------------------------------------------
if not st.session_state.token:
    st.title("classpulse")
    with st.form("sign-in"):
        token = st.text_input("Professor token", type="password")
        if st.form_submit_button("Sign in") and token:
            for key in [k for k in st.session_state if str(k).startswith(KNOWN)]:  # another professor's
                del st.session_state[key]
            st.session_state.token = token.strip()
            st.rerun()
    st.stop()

client = ApiClient(cfg.api, st.session_state.token)
try:
    courses, fresh = last_known(st.session_state, "courses", client.courses)
except ApiRefused as exc:
    st.error(f"Sign-in refused: {exc.message}")
    if st.button("Sign in with another token"):
        st.session_state.token = ""
        st.rerun()
    st.stop()
except ApiUnavailable as exc:
    st.error(f"The classpulse API at {cfg.api} is not reachable ({exc}). Retrying in {RETRY_S:.0f} s…")
    time.sleep(RETRY_S)
    st.rerun()
if not fresh:  # the page still runs, and a click that started this run says itself whether it worked
    st.caption("⚠️ The API is not answering; showing the last known list of courses.")

# -- sidebar ------------------------------------------------------------------
if "goto" in st.session_state:  # a card's "Details" asked for another view
    st.session_state.page = st.session_state.pop("goto")
with st.sidebar:
    st.header("classpulse")
    if courses:
        titles = {c["course_id"]: f"{c['title']} ({c['students']} students)" for c in courses}
        course_id = st.selectbox("Course", list(titles), format_func=titles.get, key="course")
        projection = st.toggle("Projection-safe mode", key="projection",
                               help="Hides real names (stable pseudonyms) and individual answers")
    else:
        st.info("No courses yet.")
    views = ["Live class", "Student", "Analytics", "Office hours", "Notifications", "Settings"] if courses else []
    page = st.radio("View", [*views, "System health"], key="page")

if page == "System health":  # ops, with the admin token
    ops.page(client)
    st.stop()

course = next(c for c in courses if c["course_id"] == course_id)

# -- page -----------------------------------------------------------------------
# a view's own calls answer their errors where they can; what reaches here (an actor restarting, an
# alert resolved meanwhile) is said plainly, and an unavailable API is retried, never a traceback
try:
    if page == "Live class":
        live.page(client, course, projection)
    elif page == "Student":
        student.page(client, course, projection)
    elif page == "Analytics":
        insights.analytics_page(client, course, projection)
    elif page == "Office hours":
        office_hours.page(client, course, projection)
    elif page == "Notifications":
        office_hours.notifications_page(client, course, projection, courses)
    else:
        insights.settings_page(client, course)
except ApiRefused as exc:
    # on a projector an error text (which can name a student) is not shown
    st.error("The API refused that." if projection else f"The API refused that: {exc.message}")
except ApiUnavailable as exc:
    st.warning(f"The API is not answering right now ({exc}). Retrying in {RETRY_S:.0f} s…")
    time.sleep(RETRY_S)
    st.rerun()
