"""``classpulse model train`` and ``classpulse model show``: the at-risk model's life cycle."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(width=130)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def add_parser(sub) -> None:
    from classpulse import risk_training as rt
    model = sub.add_parser("model", help="train and inspect the at-risk model")
    msub = model.add_subparsers(dest="model_command", required=True)
    p = msub.add_parser("train", help="train on simulated cohorts, run the held-out gate, save")
    p.add_argument("--students", type=int, default=300, help="students per simulated cohort (default 300)")
    p.add_argument("--seeds", type=_ints, default=rt.TRAIN_SEEDS, help="training seeds, comma-separated")
    p.add_argument("--cohorts", type=_names, default=rt.TRAIN_COHORTS,
                   help="training cohorts (names in simulator/cohorts, 'default', or TOML paths)")
    p.add_argument("--held-out-seeds", type=_ints, default=rt.HELD_OUT_SEEDS)
    p.add_argument("--held-out", type=_names, default=rt.HELD_OUT_COHORTS, help="held-out cohorts for the gate")
    p.add_argument("--out", type=Path, help="folder to write the model to (default DATA_DIR/models)")
    p.add_argument("--data-dir", type=Path, help="the server's data dir (default ./classpulse-data)")
    p.add_argument("--force", action="store_true", help="save even if the gate fails (a server will not use it)")
    p.add_argument("--shuffle-labels", action="store_true", help=argparse.SUPPRESS)  # a deliberately bad model
    p.set_defaults(func=cmd_train)
    p = msub.add_parser("show", help="which risk model a server with this data dir would use, and why")
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--path", type=Path, help="a model folder instead")
    p.set_defaults(func=cmd_show)


def _data_dir(args) -> Path:
    from classpulse.settings import from_env
    return from_env().with_overrides(data_dir=args.data_dir).data_dir


def cmd_train(args: argparse.Namespace) -> int:
    from classpulse import risk_store, risk_training
    started = time.perf_counter()
    try:
        model = risk_training.train(args.students, args.cohorts, args.seeds, args.held_out, args.held_out_seeds,
                                    shuffle_labels=args.shuffle_labels, progress=console.print)
    except (ValueError, OSError) as exc:
        console.print(f"[red]cannot train:[/red] {exc}")
        return 2
    gate = model.meta["gate"]
    _print_gate(gate)
    console.print(f"trained in {time.perf_counter() - started:.1f}s on {model.meta['training']['rows']:,} "
                  f"snapshots ({model.meta['training']['positives']:,} did not finish)")
    folder = args.out or risk_store.data_dir_folder(_data_dir(args))
    if not gate["passed"] and not args.force:
        console.print("[red]gate failed:[/red] " + "; ".join(gate["failures"]))
        console.print(f"not saved (a server would fall back to the rules); --force writes it to {folder} anyway")
        return 1
    path = risk_store.save(model, folder)
    state = "[green]passed[/green]" if gate["passed"] else "[red]FAILED (a server will not use it)[/red]"
    console.print(f"gate {state}; saved {model.meta['name']} {model.meta['version']} to {path}")
    return 0 if gate["passed"] else 1


def _print_gate(gate: dict) -> None:
    table = Table(title="held-out gate (AUC / Brier / calibration error)")
    for col in ("cohort", "seed", "rows", "not finished", "AUC", "AUC early", "AUC mid", "AUC late", "Brier", "ECE"):
        table.add_column(col)
    for r in gate["runs"]:
        a = r["all"]
        table.add_row(r["cohort"], str(r["seed"]), str(a["n"]), str(a["positives"]), _f(a["auc"]),
                      *(_f(r.get(f"at_{pct}pct", {}).get("auc")) for pct in (25, 50, 75)),
                      _f(a["brier"]), _f(a["ece"]))
    console.print(table)
    console.print_json(json.dumps({k: v for k, v in gate.items() if k != "runs"}))


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def cmd_show(args: argparse.Namespace) -> int:
    from classpulse import risk_store
    from classpulse.settings import from_env
    settings = from_env().with_overrides(data_dir=args.data_dir)
    # what a server started with the same environment would use (hubs resolve settings.risk_model)
    spec = str(args.path) if args.path else settings.risk_model
    _, info = risk_store.resolve(spec, settings.data_dir)
    console.print_json(json.dumps(info.to_wire()))
    return 0
