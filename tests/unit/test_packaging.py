"""What a wheel install carries besides Python modules (an editable install hides a miss)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ["serve/boot/sitecustomize.py",  # Serve's startup fix (serve/launch.py puts it on PYTHONPATH)
        "classpulse/models/risk-model.joblib", "classpulse/models/risk-model.json",
        "simulator/cohorts/intro-programming.toml", "engine/schema.sql", "loadtests/locustfile.py"]


def test_the_wheel_carries_the_data_files(tmp_path):
    src = tmp_path / "src"  # a copy: setuptools builds in the source tree (build/, *.egg-info)
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*-data", "test-artifacts",
                                                            "bench-results", "__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(src)],
                   check=True, capture_output=True, cwd=tmp_path)
    [wheel] = tmp_path.glob("classpulse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [f for f in DATA if f not in names] == []
