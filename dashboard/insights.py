"""Analytics (charts a professor would rather look at than read) and alert settings."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import insight_charts as charts
from dashboard.api_client import STALE, ApiClient, ApiRefused, ApiUnavailable, last_known
from dashboard.presentation import class_names, name_of

EXPORT_SECTIONS = ["bottlenecks", "heatmap", "session", "patterns", "comparative", "trajectory", "interventions",
                   "intervention_records", "at_risk"]


def analytics_page(client: ApiClient, course: dict, projection: bool) -> None:
    cid = course["course_id"]
    try:
        roster = client.live_progress(cid)["students"]
    except (ApiUnavailable, ApiRefused):
        roster = []
    names = class_names(roster, projection)  # everyone named from the roster, pseudonyms on a projector
    with st.expander("Range, buckets and windows"):
        params = _controls(names)
    try:
        a = client.analytics(cid, params)
    except (ApiUnavailable, ApiRefused) as exc:
        st.error(f"Analytics unavailable: {exc}")
        return
    if not projection:  # a student the roster did not list (yet) is still named if the at-risk list has them
        names = {s["student_id"]: s["name"] for s in a["at_risk"]["students"]} | names

    st.subheader("Where students are stuck")
    bottlenecks = pd.DataFrame(a["bottlenecks"])
    if bottlenecks.empty or bottlenecks["insufficient_data"].all():
        st.caption("Not enough data yet.")
    else:
        bottlenecks["stuck"] = bottlenecks["stuck_students"].map(len)
        st.altair_chart(charts.bottlenecks(bottlenecks[~bottlenecks["insufficient_data"]]), width="stretch")
    for b in a["bottlenecks"]:  # who is stuck now is live, not a statistic: shown however thin the log is
        if b["stuck_students"]:
            who = ", ".join(name_of(s, names, projection) for s in b["stuck_students"][:8])
            st.markdown(f"- **{b['title']}**: {len(b['stuck_students'])} stuck now ({who})")

    left, right = st.columns(2)
    with left:
        st.subheader("When students are active")
        heat = a["heatmap"]
        if heat["insufficient_data"]:
            st.caption("Not enough data yet.")
        else:
            st.altair_chart(charts.weekday_hour(heat["by_weekday_hour"]), width="stretch")
            if heat["by_minute"]:
                st.caption(f"This session, {heat['session']['bucket_minutes']:g}-minute buckets")
                st.altair_chart(charts.session(heat["by_minute"]), width="stretch")
    with right:
        st.subheader("Class progress")
        comp = a["comparative"]
        if comp.get("insufficient_data"):
            st.caption("Not enough data yet.")
        else:
            st.altair_chart(charts.histogram(comp["histogram"]), width="stretch")
            st.caption(f"median {comp['median']:.0%} · p10 {comp['p10']:.0%} · p90 {comp['p90']:.0%}")
            if comp["trajectory"]:
                st.altair_chart(charts.trajectory(comp["trajectory"]), width="stretch")
                st.caption("Line: class median; band: middle half of the class"
                           + ("; dashed: the chosen student" if comp.get("student") else ""))

    st.subheader("At risk")
    risk = a["at_risk"]
    st.caption(f"model: {risk['model']} — {risk['note']}")
    for s in risk["students"]:
        name = name_of(s["student_id"], names, projection)
        reasons = "" if projection else " — " + "; ".join(s["reasons"])
        st.markdown(f"- **{name}** (risk {s['risk']:.2f}){reasons}")
    if not risk["students"]:
        st.caption("Nobody above the risk threshold.")

    _patterns(a["patterns"])
    _effectiveness(a["interventions"])
    _exports(client, cid, params, projection)


def _controls(labels: dict[str, str]) -> dict:
    c1, c2, c3 = st.columns(3)
    params = {"bucket": c1.selectbox("Session bucket (minutes)", [1, 5, 10, 15, 30, 60], index=1),
              "window_minutes": c2.number_input("Effect window (minutes)", 1, 1440, 10),
              "session_minutes": c3.number_input("Session span (minutes)", 5, 10_080, 120)}
    chosen = st.selectbox("One student's heatmap and trajectory", ["(whole class)", *labels],
                          format_func=lambda s: labels.get(s, s))
    if chosen in labels:
        params["student_id"] = chosen
    return params


def _patterns(patterns: dict) -> None:
    st.subheader("When and how they learn best")
    for line in patterns.get("summary", []):
        st.markdown(f"- {line}")
    if patterns["insufficient_data"]:
        st.caption(f"Not enough attempts per hour yet (at least {patterns['min_attempts']} per group).")
        return
    st.altair_chart(charts.success_by_hour([h for h in patterns["by_hour"] if not h["insufficient_data"]]),
                    width="stretch")
    cols = st.columns(3)
    for col, title, key in zip(cols, ("Session length", "Spaced vs massed", "Hint use"),
                               ("by_session_length", "spacing", "by_hint_use"), strict=True):
        with col:
            st.caption(title)
            rows = pd.DataFrame(patterns[key])
            if not rows.empty:
                st.dataframe(rows.drop(columns=["insufficient_data"]), hide_index=True, width="stretch")


def _effectiveness(interventions: dict) -> None:
    st.subheader("Did interventions help?")
    eff = interventions["effectiveness"]
    st.caption(f"Change in the {interventions['window_minutes']} minutes after against the "
               f"{interventions['window_minutes']} before, with 95% confidence intervals. Send with a holdout "
               "share for an unbiased estimate.")
    rows = []
    for kind in eff["kinds"]:
        label = "randomized holdout" if kind["method"] == "randomized_holdout" else "comparable students (not randomized)"
        st.markdown(f"**{kind['kind']}** — {kind['treated']} sent, {kind['held_out']} held out; {label}")
        rows += _effect_lines(kind["kind"], kind)
        if ad_hoc := kind.get("ad_hoc"):  # sent without a holdout beside randomized sends: measured apart
            st.markdown(f"**{kind['kind']}**, sent without a holdout — {ad_hoc['treated']} sent; "
                        "comparable students (not randomized)")
            rows += _effect_lines(f"{kind['kind']} (not randomized)", ad_hoc)
    if rows:
        st.altair_chart(charts.effects(rows), width="stretch")
    elif eff["insufficient_data"]:
        st.caption(f"Not enough interventions yet (at least {eff['min_per_arm']} per kind and arm).")


def _effect_lines(label: str, estimate: dict) -> list[dict]:
    """One estimate's note and measures as lines; the measures with data as chart rows."""
    if estimate.get("note"):
        st.caption(estimate["note"])
    rows = []
    for metric, e in estimate["effects"].items():
        if e.get("insufficient_data"):
            continue
        sure = "clear effect" if e["ci_excludes_zero"] else "could be no effect"
        st.markdown(f"  - {charts.METRIC_LABELS[metric]}: {e['effect']:+.3g} "
                    f"(95% CI {e['ci_low']:+.3g} to {e['ci_high']:+.3g}; {sure})")
        rows.append({"kind": label, "metric": metric, "method": estimate["method"]} | e)
    return rows


def _exports(client: ApiClient, cid: str, params: dict, projection: bool) -> None:
    with st.expander("Export for analysis (CSV / Parquet)"):
        if projection:  # the files hold real ids, names and reasons
            st.caption("Export is off in projection-safe mode: the files name students.")
            return
        c1, c2 = st.columns(2)
        section = c1.selectbox("Section", EXPORT_SECTIONS)
        fmt = c2.selectbox("Format", ["csv", "parquet"])
        if st.button("Prepare file"):
            try:
                data, filename = client.export(cid, section, fmt, params)
            except (ApiUnavailable, ApiRefused) as exc:
                st.error(f"Export failed: {exc}")
                return
            # "ignore": clicking it downloads without a rerun, which would drop the button before the file
            st.download_button(f"Download {filename}", data, file_name=filename, on_click="ignore")


def settings_page(client: ApiClient, course: dict) -> None:
    st.subheader("Alert thresholds")
    config, fresh = last_known(st.session_state, f"config-{course['course_id']}",
                               lambda: client.config(course["course_id"]))
    if not fresh:
        st.caption(STALE)
    with st.form(f"thresholds-{course['course_id']}"):  # per course: no edits carried to another
        changes = {
            "idle_after_s": st.number_input("Idle after (seconds)", 10.0, 86_400.0, float(config["idle_after_s"]),
                                            step=1.0),  # a float: saving must not round a set 90.5 s
            "struggling_window": st.number_input("Struggling: window (attempts)", 1, 20,
                                                 int(config["struggling_window"])),
            "struggling_min_attempts": st.number_input("Struggling: at least (attempts)", 1, 20,
                                                       int(config["struggling_min_attempts"])),
            "struggling_error_rate": st.slider("Struggling: error rate", 0.0, 1.0,
                                               float(config["struggling_error_rate"])),
            "hint_burst": st.number_input("Struggling: hints in the window", 1, 50, int(config["hint_burst"])),
            "behind_by": st.slider("Behind the class median by more than", 0.0, 1.0, float(config["behind_by"])),
            "risk_threshold": st.slider("Risk alert threshold", 0.0, 1.0, float(config["risk_threshold"])),
            "intervention_holdout": st.slider("Hold out this share of students from interventions (for measuring "
                                              "their effect)", 0.0, 0.5,
                                              float(config.get("intervention_holdout", 0.0))),
        }
        if st.form_submit_button("Save thresholds"):
            try:
                client.configure(course["course_id"], changes)
                st.success("Saved; statuses were re-assessed at once.")
            except ApiRefused as exc:
                st.error(f"Not saved: {exc.message}")
            except ApiUnavailable:  # said here: the page's retry would rerun without saving
                st.error("Not saved: the API is not answering; try again.")
