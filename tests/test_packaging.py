"""A built wheel carries the built-in scenarios and runs from another folder."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{proc.stderr[-2000:]}")
    return next(out.glob("rnn_tui-*.whl"))


def test_wheel_holds_every_builtin_scenario(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for scenario in sorted((ROOT / "scenarios").glob("*.toml")):
        assert f"rnn_tui/builtin_scenarios/{scenario.name}" in names
    assert "rnn_tui/builtin_scenarios/data/text.txt" in names
    assert not any(n.startswith("tests/") for n in names)


def test_unpacked_wheel_runs_from_another_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Only the unpacked wheel is importable as rnn_tui: not this checkout.
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-m", "rnn_tui", "scenarios"], cwd=elsewhere,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "text" in proc.stdout and "adding" in proc.stdout
    check = subprocess.run([sys.executable, "-c", "import rnn_tui; print(rnn_tui.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, env=env)
    assert check.stdout.startswith(str(site))
