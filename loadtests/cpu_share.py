"""CPU seconds per process around a piece of work, by role: where an ingest's CPU goes.

    with CpuShare() as share:
        ...  # the work
    share.table(events, "title")  # a rich Table: seconds and microseconds per event per process

Counts every process on the machine (Ray's actors by their ``ray::Class`` titles, the raylet, GCS,
this driver), so run it on a quiet machine: anything else running shows up as its own line.
"""
from __future__ import annotations

import os
import time
from typing import Self

import psutil
from rich.table import Table


def _role(proc: psutil.Process) -> str:
    if proc.pid == os.getpid():
        return "driver (plays the API replica)"
    cmd = " ".join(proc.cmdline()[:3])
    for part in cmd.split():
        if part.startswith("ray::"):
            return part.split(".")[0]  # ray::CourseHub.apply_summaries -> ray::CourseHub
    for name in ("raylet", "gcs_server", "dashboard", "log_monitor"):
        if name in cmd:
            return f"ray {name}"
    return proc.name()


def _cpu() -> dict[int, tuple[str, float]]:
    out = {}
    for proc in psutil.process_iter():
        try:
            times = proc.cpu_times()
            out[proc.pid] = (_role(proc), times.user + times.system)
        except (psutil.Error, OSError):
            continue
    return out


class CpuShare:
    def __enter__(self) -> Self:
        self._before, self._started = _cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._started
        after = _cpu()
        self.by_process = sorted(((cpu - self._before.get(pid, (role, 0.0))[1], role, pid)
                                  for pid, (role, cpu) in after.items()), reverse=True)

    def table(self, events: int, title: str, least_s: float = 0.02) -> Table:
        table = Table(title=title)
        for column in ("process", "CPU s", "us per event"):
            table.add_column(column, justify="left" if column == "process" else "right")
        total = 0.0
        for seconds, role, pid in self.by_process:
            total += seconds
            if seconds >= least_s:
                table.add_row(f"{role} ({pid})", f"{seconds:.2f}", f"{seconds / events * 1e6:.2f}")
        table.add_row("all processes", f"{total:.2f}", f"{total / events * 1e6:.2f}")
        table.add_row("cores busy", f"{total / self.wall:.2f} of {psutil.cpu_count()}", "")
        return table
