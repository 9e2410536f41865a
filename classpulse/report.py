"""A researcher's HTML report of one course's analytics: Altair charts and the numbers behind them.

``render(analysis)`` is pure: the analytics JSON in, one self-describing HTML
page out (Vega-Lite specs embedded, drawn by vega-embed; every chart has a
table beside it, so the numbers survive without JavaScript).
"""
from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

import altair as alt

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
VEGA = ('<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>'
        '<script src="https://cdn.jsdelivr.net/npm/vega-embed@6"></script>')

STYLE = ("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
         "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}.chart{margin:1em 0}</style></head><body>")


def charts(a: dict[str, Any]) -> dict[str, alt.Chart | None]:
    """One chart per analysis (None where the analysis has no data yet)."""
    out: dict[str, alt.Chart | None] = {}
    cells = [c | {"day": WEEKDAYS[c["weekday"] - 1]} for c in a["heatmap"]["by_weekday_hour"]]
    out["heatmap"] = alt.Chart(alt.Data(values=cells), title="Learning events by weekday and hour (UTC)").mark_rect(
    ).encode(x=alt.X("hour:O"), y=alt.Y("day:N", sort=WEEKDAYS), color=alt.Color("events:Q", scale=alt.Scale(
        scheme="blues")), tooltip=["day:N", "hour:O", "events:Q", "students:Q"]) if cells else None
    minutes = [m | {"time": _iso(m["minute"])} for m in a["heatmap"]["by_minute"]]
    out["session"] = alt.Chart(alt.Data(values=minutes), title="Activity within the session").mark_bar().encode(
        x=alt.X("time:T"), y=alt.Y("events:Q"), tooltip=["time:T", "events:Q", "students:Q"]) if minutes else None
    rows = [b for b in a["bottlenecks"] if not b["insufficient_data"]]
    out["bottlenecks"] = alt.Chart(alt.Data(values=rows), title="Bottlenecks (worst first)").mark_bar().encode(
        x=alt.X("score:Q", title="bottleneck score"), y=alt.Y("title:N", sort="-x", title=None),
        color=alt.Color("error_rate:Q", scale=alt.Scale(scheme="reds"), title="error rate"),
        tooltip=["title:N", "score:Q", "time_ratio:Q", "error_rate:Q", "hint_rate:Q", "drop_off:Q"]) if rows else None
    line = [t | {"time": _iso(t["t"])} for t in a["comparative"].get("trajectory", [])]
    if line:
        base = alt.Chart(alt.Data(values=line), title="Completion over the session: class median and quartiles")
        out["comparative"] = (base.mark_area(opacity=0.25).encode(x=alt.X("time:T"), y=alt.Y("p25:Q", title="completion"),
                                                                   y2="p75:Q")
                              + base.mark_line().encode(x="time:T", y="median:Q"))
    else:
        out["comparative"] = None
    effects = [{"kind": k["kind"], "metric": m, "method": k["method"]} | e
               for k in a["interventions"]["effectiveness"]["kinds"] for m, e in k["effects"].items()
               if not e.get("insufficient_data")]
    if effects:
        base = alt.Chart()
        out["effectiveness"] = alt.layer(
            base.mark_errorbar().encode(x=alt.X("ci_low:Q", title="effect (after - before)"), x2="ci_high:Q",
                                        y=alt.Y("kind:N")),
            base.mark_point(filled=True).encode(x="effect:Q", y="kind:N",
                                                tooltip=["kind:N", "metric:N", "method:N", "effect:Q", "ci_low:Q",
                                                         "ci_high:Q", "effect_size_d:Q", "n_treated:Q",
                                                         "n_control:Q"]),
            data=alt.Data(values=effects)).facet(row=alt.Row("metric:N")).resolve_scale(x="independent").properties(
            title="Intervention effect per kind with its 95% confidence interval")
    else:
        out["effectiveness"] = None
    hours = [h for h in a["patterns"]["by_hour"] if not h["insufficient_data"]]
    out["patterns"] = alt.Chart(alt.Data(values=hours), title="Success rate by hour of day").mark_line(
        point=True).encode(x=alt.X("hour:O"), y=alt.Y("success_rate:Q", scale=alt.Scale(domain=[0, 1])),
                           tooltip=["hour:O", "attempts:Q", "success_rate:Q", "pace_per_hour:Q"]) if hours else None
    return out


def render(a: dict[str, Any], title: str | None = None) -> str:
    title = title or f"classpulse report: {a['course_id']}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>{VEGA}",
             STYLE,
             (f"<h1>{html.escape(title)}</h1><p>As of {html.escape(str(a.get('as_of')))}; parameters "
              f"<code>{html.escape(json.dumps(a.get('params', {})))}</code>. How each analysis is computed: "
              "docs/researcher-guide.md.</p>")]
    script = []
    for name, chart in charts(a).items():
        parts.append(f"<h2>{name.title()}</h2>")
        if chart is None:
            parts.append("<p><em>insufficient data</em></p>")
        else:
            parts.append(f"<div class='chart' id='chart-{name}'></div>")
            script.append(f"vegaEmbed('#chart-{name}', {_script_json(chart.to_dict())});")
        parts.append(_table(name, a))
    parts.append(f"<script>{''.join(script)}</script></body></html>")
    return "\n".join(parts)


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script>``: a title holding ``</script>`` or ``<!--`` would end the script (and
    let the rest be read as HTML); ``\u003c`` is the same character to JSON and to JavaScript."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _table(name: str, a: dict[str, Any]) -> str:
    from engine.analytics import export
    section = {"effectiveness": "interventions"}.get(name, name)
    rows = export.SECTIONS[section](a)[:50]
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<details><summary>numbers</summary><table><tr>{head}</tr>{body}</table></details>"


def _cell(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()
