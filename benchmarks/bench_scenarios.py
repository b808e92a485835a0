"""How long each built-in scenario takes to learn, headless: the README's scenario table.

For every scenario, `rnn-tui train --scenario S --json` runs its whole training budget
(the scenario file's `steps`) with its default model; the table gives the step and
wall time at which the goal was first met at an evaluation, and the whole budget's
steps and time. Times are wall-clock on this machine, with whatever else runs on it.

    python benchmarks/bench_scenarios.py [--only sine,adding] [--arch lstm] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = ("text", "sine", "sentiment", "digits", "adding", "copy", "brackets", "reverse", "exploding")


def train(scenario: str, arch: str | None, threads: int | None, work: str) -> tuple[dict | None, dict]:
    """(the first evaluation that met the goal or None, the final summary)."""
    cmd = [sys.executable, "-m", "rnn_tui", "train", "--scenario", scenario, "--json", "--no-run-folder"]
    if arch:
        cmd += ["--arch", arch]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env={**os.environ, "PYTHONPATH": ROOT})
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if not rows or not rows[-1].get("final"):  # a diverged run ends with status 1 and its summary
        raise RuntimeError(f"{scenario}: exit status {out.returncode}: {out.stderr.strip()}")
    final = rows[-1]
    first = next((r for r in rows[:-1] if r.get("step") == final.get("solved_at_step")), None)
    return first, final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scenario names (default: all built-in)")
    parser.add_argument("--arch", help="train this architecture instead of each scenario's default")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else SCENARIOS
    work = tempfile.mkdtemp(prefix="rnn-tui-scenarios-")
    print(f"{'scenario':<10} {'arch':<5} {'goal':<22} {'first met':>18} {'whole budget':>22}  final")
    for name in names:
        first, final = train(name, args.arch, args.threads, work)
        goal = " ".join(str(v) for v in final["goal"].values())  # e.g. "val_loss below 0.01"
        met = (f"step {final['solved_at_step']:,}, {first['elapsed_s']:.0f} s" if first
               else "diverged" if final.get("diverged") else "not met")
        figure = (f"accuracy {final['accuracy']:.3f}" if "accuracy" in final
                  else f"val_loss {final['val_loss']:.4g} (naive {final['baseline']:.3g})")
        print(f"{name:<10} {final['config']['arch']:<5} {goal:<22} {met:>18} "
              f"{final['step']:>8,} steps, {final['elapsed_s']:>4.0f} s  {figure}", flush=True)


if __name__ == "__main__":
    main()
