"""Risk scoring cost in a course's live view: the trained model against the transparent rules,
side by side, per refresh of a whole class (a hub re-assesses a changed course every 250 ms).

    python -m loadtests.bench_risk [--students 120,1000,10000] [--repeat 20]

For each class size: a simulated cohort folded to mid-session, then the time of one
``CourseView.refresh()`` that scores with the rules and one that scores with the shipped
model (features + vectorised scoring + reasons), and the model's own share.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from classpulse import risk_store
from classpulse import risk_training as rt
from engine.config import AlertConfig
from engine.live_view import CourseView, SeqClock
from engine.risk_features import extract, session_of
from engine.risk_model import rules_only
from simulator import cohort as cohorts
from simulator.offline import simulate

console = Console(width=140)


def _view(students: int, model, info) -> CourseView:
    cohort = cohorts.default(students=students, seed=5)
    events, _ = simulate(cohort, range(students))
    _, summaries, clock = next(rt.fold(cohort, events, (0.5,), AlertConfig().idle_after_s))
    course = rt.course_of(cohort)
    view = CourseView(course, AlertConfig(), {s.student_id: s.student_id for s in summaries}, SeqClock(),
                      risk_model=model, risk_info=info)
    for s in summaries:
        view.apply(s)
    view.clock.observe(clock.now())
    return view


def _refresh_ms(view: CourseView, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        view._inputs.clear()
        started = time.perf_counter()
        view.refresh()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _model_only_ms(model, view: CourseView, repeat: int) -> float:
    """Features, vectorised scoring and reasons for the whole class, without the view around them."""
    summaries = list(view.summaries.values())
    session = session_of(view.course)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        model.score(extract(summaries, view.clock, 180.0, session))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--students", default="120,1000,10000", help="class sizes (comma list)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("bench-results/risk.json"))
    args = ap.parse_args(argv)
    model = risk_store.load(risk_store.shipped_folder())
    table = Table(title=f"risk scoring per class refresh ({model.name} {model.version} vs rules), best of "
                        f"{args.repeat}")
    for col in ("students", "refresh, rules (ms)", "refresh, model (ms)", "ratio",
                "model only: features + score + reasons (ms)", "per student (us)"):
        table.add_column(col, justify="right")
    results = []
    sizes = [int(x) for x in args.students.split(",")]
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("risk scoring", total=3 * len(sizes))
        for n in sizes:
            bar.update(task, description=f"{n:,} students: simulating the class, folding to mid-session")
            with_model = _view(n, model, model.info())
            with_rules = _view(n, None, rules_only("benchmark"))
            assert with_model.risk_info.active and not with_rules.risk_info.active
            bar.update(task, advance=1, description=f"{n:,} students: refreshes, best of {args.repeat}")
            rules_ms, model_ms = _refresh_ms(with_rules, args.repeat), _refresh_ms(with_model, args.repeat)
            bar.update(task, advance=1, description=f"{n:,} students: the model alone, best of {args.repeat}")
            only_ms = _model_only_ms(model, with_model, args.repeat)
            bar.advance(task)
            results.append({"students": n, "refresh_rules_ms": round(rules_ms, 2),
                            "refresh_model_ms": round(model_ms, 2), "model_only_ms": round(only_ms, 2),
                            "per_student_us": round(1000 * only_ms / n, 2)})
            table.add_row(f"{n:,}", f"{rules_ms:.2f}", f"{model_ms:.2f}", f"{model_ms / rules_ms:.2f}x",
                          f"{only_ms:.2f}", f"{1000 * only_ms / n:.1f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": model.version, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
