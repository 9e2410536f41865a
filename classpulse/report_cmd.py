"""``classpulse report COURSE --api URL --token-file F --out FILE.html``: the analytics as an HTML report."""
from __future__ import annotations

import argparse
from pathlib import Path

ANALYSIS_FLAGS = ("since", "until", "bucket", "window_minutes", "session_minutes")


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a course's analytics as an HTML report with charts (researchers)")
    p.add_argument("course", help="course id")
    p.add_argument("--api", default="http://127.0.0.1:8000", help="classpulse API URL")
    p.add_argument("--token-file", type=Path, required=True, help="a file holding a professor or admin token")
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    p.add_argument("--since", help="ISO-8601 start of the range")
    p.add_argument("--until", help="ISO-8601 end of the range")
    p.add_argument("--bucket", help="session bucket size in minutes (default 5)")
    p.add_argument("--window-minutes", dest="window_minutes", help="intervention effect window (default 10)")
    p.add_argument("--session-minutes", dest="session_minutes", help="session span (default 120)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    import httpx

    from classpulse.report import render
    token = args.token_file.read_text().strip()
    params = {k: getattr(args, k) for k in ANALYSIS_FLAGS if getattr(args, k) is not None}
    try:
        r = httpx.get(f"{args.api.rstrip('/')}/api/professor/courses/{args.course}/analytics/real-time",
                      params=params, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    except httpx.HTTPError as exc:
        print(f"cannot reach {args.api}: {exc}")
        return 1
    if r.status_code != 200:
        print(f"the API refused ({r.status_code}): {r.text[:500]}")
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(r.json()))
    print(f"report written to {args.out}")
    return 0
