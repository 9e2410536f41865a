"""Analytics (charts a professor would rather look at than read) and alert settings."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.api_client import ApiClient, ApiRefused, ApiUnavailable
from dashboard.presentation import pseudonym

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def analytics_page(client: ApiClient, course: dict, projection: bool) -> None:
    try:
        a = client.analytics(course["course_id"])
    except (ApiUnavailable, ApiRefused) as exc:
        st.error(f"Analytics unavailable: {exc}")
        return
    st.subheader("Where students are stuck")
    bottlenecks = pd.DataFrame(a["bottlenecks"])
    if bottlenecks.empty or bottlenecks["insufficient_data"].all():
        st.caption("Not enough data yet.")
    else:
        chart = alt.Chart(bottlenecks[~bottlenecks["insufficient_data"]]).mark_bar().encode(
            x=alt.X("score:Q", title="bottleneck score"), y=alt.Y("title:N", sort="-x", title=None),
            color=alt.Color("error_rate:Q", scale=alt.Scale(scheme="reds"), title="error rate"),
            tooltip=["title", "score", "error_rate", "hint_rate", "drop_off", "median_time_s", "expected_s"])
        st.altair_chart(chart, use_container_width=True)

    left, right = st.columns(2)
    with left:
        st.subheader("When students are active")
        heat = pd.DataFrame(a["heatmap"]["by_weekday_hour"])
        if heat.empty:
            st.caption("Not enough data yet.")
        else:
            heat["day"] = heat["weekday"].map(lambda d: WEEKDAYS[d - 1])
            st.altair_chart(alt.Chart(heat).mark_rect().encode(
                x=alt.X("hour:O", title="hour (UTC)"), y=alt.Y("day:N", sort=WEEKDAYS, title=None),
                color=alt.Color("events:Q", scale=alt.Scale(scheme="blues")), tooltip=["day", "hour", "events"]),
                use_container_width=True)
    with right:
        st.subheader("Class progress")
        comp = a["comparative"]
        if comp.get("insufficient_data"):
            st.caption("Not enough data yet.")
        else:
            hist = pd.DataFrame(comp["histogram"])
            hist["completion"] = hist["from"].map(lambda f: f"{f:.0%}")
            st.altair_chart(alt.Chart(hist).mark_bar().encode(
                x=alt.X("completion:N", sort=None), y=alt.Y("students:Q")), use_container_width=True)
            st.caption(f"median {comp['median']:.0%} · p10 {comp['p10']:.0%} · p90 {comp['p90']:.0%}")

    st.subheader("At risk")
    risk = a["at_risk"]
    st.caption(f"model: {risk['model']} — {risk['note']}")
    for s in risk["students"]:
        name = pseudonym(s["student_id"]) if projection else s["name"]
        reasons = "" if projection else " — " + "; ".join(s["reasons"])
        st.markdown(f"- **{name}** (risk {s['risk']:.2f}){reasons}")
    if not risk["students"]:
        st.caption("Nobody above the risk threshold.")

    patterns = a["patterns"]
    st.subheader("When they learn best")
    if patterns["insufficient_data"]:
        st.caption("Not enough attempts per hour yet.")
    else:
        st.line_chart(pd.DataFrame(patterns["by_hour"]).set_index("hour")[["success_rate"]], height=200)


def settings_page(client: ApiClient, course: dict) -> None:
    st.subheader("Alert thresholds")
    config = client.config(course["course_id"])
    with st.form("thresholds"):
        changes = {
            "idle_after_s": st.number_input("Idle after (seconds)", 10, 86_400, int(config["idle_after_s"])),
            "struggling_window": st.number_input("Struggling: window (attempts)", 1, 20,
                                                 int(config["struggling_window"])),
            "struggling_min_attempts": st.number_input("Struggling: at least (attempts)", 1, 20,
                                                       int(config["struggling_min_attempts"])),
            "struggling_error_rate": st.slider("Struggling: error rate", 0.0, 1.0,
                                               float(config["struggling_error_rate"])),
            "hint_burst": st.number_input("Struggling: hints in the window", 1, 50, int(config["hint_burst"])),
            "behind_by": st.slider("Behind the class median by more than", 0.0, 1.0, float(config["behind_by"])),
            "risk_threshold": st.slider("Risk alert threshold", 0.0, 1.0, float(config["risk_threshold"])),
        }
        if st.form_submit_button("Save thresholds"):
            try:
                client.configure(course["course_id"], changes)
                st.success("Saved; statuses were re-assessed at once.")
            except ApiRefused as exc:
                st.error(f"Not saved: {exc.message}")
