"""Charts for the analytics page: one function per analysis, each taking the API's section as is.

Display only (Altair over the JSON the API returns); no analysis is computed here.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# times are UTC on every chart, as the hour axes are: a temporal axis (and its tooltip) would otherwise be
# drawn in the browser's time zone, unlabelled
UTC_SCALE = alt.Scale(type="utc")
UTC_TITLE = "time (UTC)"
UTC_TOOLTIP = alt.Tooltip("time_utc:N", title=UTC_TITLE)  # the column ``utc_tooltip`` makes
METRIC_LABELS = {"progress_rate": "progress (completion points / hour)", "error_rate": "error rate",
                 "active_minutes": "active minutes"}


def bottlenecks(rows: pd.DataFrame) -> alt.Chart:
    return alt.Chart(rows).mark_bar().encode(
        x=alt.X("score:Q", title="bottleneck score"), y=alt.Y("title:N", sort="-x", title=None),
        color=alt.Color("error_rate:Q", scale=alt.Scale(scheme="reds"), title="error rate"),
        tooltip=["title", "score", "time_ratio", "error_rate", "hint_rate", "drop_off", "median_time_s",
                 "expected_s", "stuck"])


def weekday_hour(cells: list[dict]) -> alt.Chart:
    heat = pd.DataFrame(cells)
    heat["day"] = heat["weekday"].map(lambda d: WEEKDAYS[d - 1])
    return alt.Chart(heat).mark_rect().encode(
        x=alt.X("hour:O", title="hour (UTC)"), y=alt.Y("day:N", sort=WEEKDAYS, title=None),
        color=alt.Color("events:Q", scale=alt.Scale(scheme="blues")), tooltip=["day", "hour", "events", "students"])


def utc_x(field: str = "time", title: str | None = UTC_TITLE) -> alt.X:
    return alt.X(f"{field}:T", title=title, scale=UTC_SCALE)


def utc_tooltip(times: pd.Series) -> pd.Series:
    """A tz-aware time column as the text a tooltip shows (``time_utc``; a temporal one is browser-local)."""
    return times.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def session(buckets: list[dict]) -> alt.Chart:
    frame = pd.DataFrame(buckets)
    frame["time"] = pd.to_datetime(frame["minute"], unit="s", utc=True)
    frame["time_utc"] = utc_tooltip(frame["time"])
    return alt.Chart(frame).mark_bar().encode(x=utc_x(), y=alt.Y("events:Q"),
                                              tooltip=[UTC_TOOLTIP, "events", "students"])


def histogram(bins: list[dict]) -> alt.Chart:
    hist = pd.DataFrame(bins)
    hist["completion"] = hist["from"].map(lambda f: f"{f:.0%}")
    return alt.Chart(hist).mark_bar().encode(x=alt.X("completion:N", sort=None), y=alt.Y("students:Q"))


def trajectory(points: list[dict]) -> alt.Chart:
    frame = pd.DataFrame(points)
    frame["time"] = pd.to_datetime(frame["t"], unit="s", utc=True)
    frame["time_utc"] = utc_tooltip(frame["time"])
    base = alt.Chart(frame)
    chart = (base.mark_area(opacity=0.25).encode(x=utc_x(),
                                                 y=alt.Y("p25:Q", title="completion", axis=alt.Axis(format="%")),
                                                 y2="p75:Q")
             + base.mark_line().encode(x=utc_x(), y="median:Q",
                                       tooltip=[UTC_TOOLTIP, "median", "p25", "p75"]))
    if frame["student"].notna().any():
        chart += base.mark_line(strokeDash=[4, 3], color="#d62728").encode(x=utc_x(), y="student:Q")
    return chart


def success_by_hour(hours: list[dict]) -> alt.Chart:
    return alt.Chart(pd.DataFrame(hours)).mark_line(point=True).encode(
        x=alt.X("hour:O", title="hour (UTC)"),
        y=alt.Y("success_rate:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        tooltip=["hour", "attempts", "success_rate", "pace_per_hour"])


def effects(rows: list[dict]) -> alt.Chart:
    """Each kind's effect with its 95% interval, one panel per measure; the dashed line is no effect."""
    frame = pd.DataFrame(rows)
    frame["measure"] = frame["metric"].map(METRIC_LABELS)
    base = alt.Chart()
    layered = alt.layer(
        base.mark_rule(strokeDash=[4, 4], color="#888").encode(x=alt.datum(0)),
        base.mark_errorbar(ticks=True).encode(x=alt.X("ci_low:Q", title="effect (after - before)"), x2="ci_high:Q",
                                              y=alt.Y("kind:N", title=None)),
        base.mark_point(filled=True, size=60).encode(
            x="effect:Q", y="kind:N", color=alt.Color("method:N"),
            tooltip=["kind", "measure", "method", "effect", "ci_low", "ci_high", "effect_size_d", "n_treated",
                     "n_control"]),
        data=frame)
    return layered.facet(row=alt.Row("measure:N", title=None)).resolve_scale(x="independent")
