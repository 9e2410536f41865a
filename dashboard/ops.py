"""System health for ops (admin token): the stats figures now and their last 15 minutes."""
from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboard.api_client import ApiClient, ApiRefused, ApiUnavailable

CHARTS = {  # chart title -> (history column, unit)
    "Ingest rate": ("ingest_rate_per_s", "events/s"),
    "Commit latency p99": ("commit_p99_s", "s"),
    "Event-to-push p95": ("event_to_push_p95_s", "s"),
    "Hub lag p95": ("hub_lag_p95_s", "s"),
    "Shard backlog": ("backlog_s", "s"),
    "Open subscribers": ("subscribers", ""),
}


def page(client: ApiClient) -> None:
    st.subheader("System health")
    try:
        stats, history = client.stats(), client.stats_history()
    except ApiRefused as exc:
        st.warning(f"The system-health page needs the admin token ({exc.message}).")
        return
    except ApiUnavailable as exc:
        st.error(f"The API is not reachable ({exc}).")
        return
    degraded = stats.get("degraded", {"on": False, "reasons": []})
    if degraded["on"]:
        st.error("Degraded: " + "; ".join(degraded["reasons"]))
    else:
        st.success(f"Healthy (last {stats['window_s']:.0f} s)")
    cols = st.columns(6)
    cols[0].metric("Ingest", f"{stats['ingest_rate_per_s']:.0f}/s")
    cols[1].metric("Commit p99", _ms(stats["commit_latency_s"]["p99"]))
    cols[2].metric("Event→push p95", _ms(stats["event_to_push_s"]["p95"]))
    cols[3].metric("Hub lag p95", _ms(stats["hub_lag_s"]["p95"]))
    cols[4].metric("Shard backlog", _ms(stats["hub_lag_s"].get("backlog_s")))
    cols[5].metric("Subscribers", stats.get("subscribers", 0))
    st.caption(f"Events acknowledged since start: {stats['events_acknowledged_since_start']:,} · "
               f"commit p50 {_ms(stats['commit_latency_s']['p50'])} · "
               f"rejected {stats['rejected_rate_per_s']:.1f}/s")

    samples = history["samples"]
    st.markdown(f"**Last 15 minutes** (a sample every {history['every_s']:.0f} s)")
    if not samples:
        st.caption("No samples yet.")
        return
    times = [datetime.fromtimestamp(s["t"], UTC) for s in samples]
    grid = st.columns(3)
    for i, (title, (column, unit)) in enumerate(CHARTS.items()):
        with grid[i % 3]:
            st.markdown(f"{title}" + (f" ({unit})" if unit else ""))
            st.line_chart({"time": times, title: [s.get(column) for s in samples]}, x="time", y=title,
                          height=160)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
