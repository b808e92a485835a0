"""Memory bounds: a run is estimated before it is built and refused, in one line, when the
estimate passes the budget; evaluation works in chunks whose size the estimate counts."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import rnn_tui
from rnn_tui.core import memory, tasks
from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.core.model import SequenceModel, count_parameters
from rnn_tui.data.scenario import load_scenario
from rnn_tui.errors import UserError
from rnn_tui.training import protocol as p
from rnn_tui.training.run_group import RunGroup
from rnn_tui.training.trainer import Trainer
from tests.promise import call, refused
from tests.test_cli import in_tmp  # noqa: F401 - every test runs in its own empty folder

HUGE = ["--hidden", "4096", "--layers", "3", "--bidirectional"]


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru", "esn"])
@pytest.mark.parametrize("task,tokens", [("next_token", True), ("regress", False), ("seq2seq", True),
                                         ("classify", True)])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (3, True), (2, False)])
def test_the_parameter_count_is_the_models_own(arch, task, tokens, layers, bidirectional):
    if bidirectional and task in ("next_token", "seq2seq"):
        pytest.skip("a causal task takes no backward direction")
    config = ModelConfig(arch=arch, hidden=12, layers=layers, bidirectional=bidirectional, embed=5)
    shape = memory.Shape(task, 7, 9, tokens, 11)
    model = SequenceModel(config, task, 7, 9, tokens)
    assert memory.parameter_count(config, shape) == count_parameters(model)[1]


@pytest.mark.parametrize("text,expected", [("4G", 4 * 2**30), ("500M", 500 * 2**20), ("1.5GB", 1.5 * 2**30),
                                           ("2gib", 2 * 2**30), ("3000000", 3e6)])
def test_sizes_read_as_a_person_writes_them(text, expected):
    assert memory.parse_limit(text) == ("bytes", expected)


def test_a_share_is_of_the_memory_available():
    assert memory.parse_limit("60%") == ("fraction", 0.6)
    available = memory.available()
    assert available is not None and available > 0  # Linux: /proc/meminfo
    budget = memory.budget("50%")
    assert budget.bytes <= available and "50% of the" in budget.how


@pytest.mark.parametrize("text", ["4x", "", "-1G", "0%", "150%", "12", "G"])
def test_a_bad_limit_is_one_line_naming_the_option(text):
    line = refused(call(["train", "--memory-limit", text]), "--memory-limit")
    assert "expected" in line and "Traceback" not in line


def test_a_huge_model_is_refused_before_it_is_built():
    line = refused(call(["train", "--scenario", "adding", *HUGE, "--steps", "1", "--no-run-folder",
                         "--memory-limit", "8G"]),
                   "needs about", "GB", "budget of 8.0 GB (a limit of 8G)", "raise --memory-limit", "hidden (4096)", "layers (3)")
    assert "weights and optimizer" in line and not Path("runs").exists()


def adding_with(tmp_path: Path, data: str = "", model: str = "") -> str:
    """The built-in adding scenario with lines added to its [data] and [model] tables."""
    text = (Path(rnn_tui.__file__).parent.parent / "scenarios" / "adding.toml").read_text()
    keys = {line.split("=")[0].strip() for line in f"{data}\n{model}".splitlines() if "=" in line}
    text = "\n".join(line for line in text.splitlines() if line.split("=")[0].strip() not in keys) + "\n"
    path = tmp_path / "variant.toml"
    path.write_text(text.replace("[data]\n", f"[data]\n{data}\n").replace("[model]\n", f"[model]\n{model}\n"))
    return str(path)


def measured(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, int]:
    """`rnn-tui ARGV` in a process of its own: the process, and its peak resident bytes."""
    env = {**os.environ, "PYTHONPATH": str(Path(rnn_tui.__file__).parent.parent)}
    code = ("import resource, sys; from rnn_tui.cli import main; rc = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300)
    return proc, int(proc.stdout.strip().splitlines()[-1]) * 1024


def test_data_too_large_for_the_budget_is_refused_before_it_is_built(tmp_path):
    # adding at its allowed maxima: 1.6 GB of float32 sequences once built (it peaked at 8 GB)
    maxima = adding_with(tmp_path, data="seq_len = 1000\ntrain_size = 200000")
    proc, peak = measured(["train", "--scenario", maxima, "--steps", "1", "--no-run-folder", "--memory-limit", "1G"],
                          tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "data" in proc.stderr and "budget of 1.0 GB" in proc.stderr and "train_size" in proc.stderr
    assert peak < 2**30  # refused before it was built


def test_the_limit_reaches_a_scenario_file_and_the_environment(tmp_path, monkeypatch):
    huge = adding_with(tmp_path, model="hidden = 4096\nlayers = 3\nbidirectional = true")
    monkeypatch.setenv(memory.ENV, "2G")
    line = refused(call(["train", "--scenario", huge, "--steps", "1", "--no-run-folder"]), "needs about",
                   "a limit of 2G")
    assert "hidden (4096)" in line
    assert call(["train", "--memory-limit", "5G", "--scenario", huge, "--steps", "1"]).code == 2
    assert os.environ[memory.ENV] == "2G"  # an option given once does not outlive its command


def test_what_fits_trains_and_stays_within_its_budget(tmp_path):
    proc, peak = measured(["train", "--scenario", "adding", "--steps", "5", "--eval-every", "5", "--no-run-folder",
                           "--memory-limit", "1G"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert peak < 2**30


def test_the_app_says_a_switch_that_would_not_fit_and_keeps_its_run(monkeypatch):
    monkeypatch.setenv(memory.ENV, "3G")
    out = []
    specs = {"main": {"source": {"scenario": "adding"}, "model": {"hidden": 8}, "train": {}}}
    group = RunGroup(specs, None, False, False, out.append)
    before = group.runs["main"]
    group.handle(p.Switch(model={"hidden": 4096, "layers": 3}))
    errors = [e for e in out if isinstance(e, p.TrainerError)]
    assert errors and "needs about" in errors[-1].reason and "a limit of 3G" in errors[-1].reason
    assert group.runs["main"] is before


def test_a_compare_process_gets_its_share_of_the_budget(monkeypatch):
    monkeypatch.setenv(memory.ENV, "3G")
    out = []
    specs = {"lstm": {"source": {"scenario": "adding"}, "model": {"hidden": 1500, "layers": 3}, "train": {}}}
    RunGroup(specs, None, False, ["rnn", "lstm", "gru"], out.append)  # ~1.5 GB: fits 3G, not its third
    errors = [e.reason for e in out if isinstance(e, p.TrainerError)]
    assert errors and "33% of a limit of 3G" in errors[0]


@pytest.mark.parametrize("name", ["text", "sentiment", "adding"])
def test_evaluation_in_chunks_scores_as_the_whole_split_does(name, monkeypatch):
    monkeypatch.setattr(memory, "EVAL_ROWS", 4)  # several chunks, the last one short
    scenario = load_scenario(name).with_data(val_size=50) if name != "text" else load_scenario(name)
    data = scenario.build_data(0)
    trainer = Trainer(data, replace(scenario.model, hidden=16), TrainConfig(steps=1))
    row = trainer.evaluate()
    with torch.no_grad():
        pred = trainer.model(data.val.x)
    assert row["val_loss"] == pytest.approx(float(tasks.batch_loss(data.kind, pred, data.val.y)), rel=1e-5)
    whole = tasks.metrics(data.kind, pred.argmax(-1), data.val.y, data.output_size)
    assert whole == {k: pytest.approx(row[k], abs=1e-6) for k in whole}
    assert (name == "adding") == (not whole)


def test_an_evaluation_chunk_shrinks_for_a_large_vocabulary():
    config = ModelConfig(hidden=64)
    small = memory.eval_rows(config, memory.Shape("next_token", 80, 80, True, 64))
    large = memory.eval_rows(config, memory.Shape("next_token", 194_000, 194_000, True, 64))
    assert small == memory.EVAL_ROWS and large == 1
    assert large * 64 * 194_000 * 4 <= 2 * memory.EVAL_BYTES


def test_an_estimate_names_its_largest_parts_and_what_to_lower():
    estimate = memory.Estimate({"data": 1e9, "weights and optimizer": 8e9, "activations": 1e6})
    with pytest.raises(UserError) as err:
        memory.check(estimate, memory.Budget(4e9, "a limit of 4G"), "hidden (4096)")
    line = str(err.value)
    assert "8.4 GB" in line and "weights and optimizer 7.5 GB" in line and "activations" not in line
    assert "budget of 3.7 GB (a limit of 4G)" in line and "lower hidden (4096)" in line
    memory.check(estimate, memory.Budget(math.inf, "no limit"), "-")  # no exception
