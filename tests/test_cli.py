"""The headless CLI: train, trace, scenarios, and one clear line for every bad input."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnn_tui.cli import main


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """train writes a run folder under ./runs: keep it out of the checkout."""
    monkeypatch.chdir(tmp_path)


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own checks exit directly
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# ------------------------------------------------------------------ train


def test_train_json_lines_and_final_summary(capsys, tmp_path):
    ckpt = tmp_path / "adding.pt"
    code, out, _ = run(["train", "--scenario", "adding", "--steps", "20", "--eval-every", "10",
                        "--seq-len", "20", "--json", "--save", str(ckpt), "--device", "cpu"], capsys)
    assert code == 0
    rows = json_lines(out)
    assert [r["step"] for r in rows[:-1]] == [10, 20]
    for key in ("step", "loss", "val_loss", "seq_per_s"):
        assert key in rows[0]
    final = rows[-1]
    assert final["final"] is True and isinstance(final["solved"], bool)
    assert final["baseline"] == pytest.approx(1 / 6, rel=0.25)  # the adding problem's mean predictor
    assert final["config"]["arch"] == "lstm" and final["config"]["seq_len"] == 20
    assert final["config"]["input_size"] == 2
    for key in ("val_loss", "seq_per_s", "elapsed_s"):
        assert final[key] > 0

    # The checkpoint is plain tensors; its core loads into torch.nn.LSTM as it is.
    payload = torch.load(ckpt, weights_only=True)
    lstm = torch.nn.LSTM(2, final["config"]["hidden"], batch_first=True)
    lstm.load_state_dict(payload["core"], strict=True)
    assert payload["meta"]["step"] == 20


def test_same_seed_same_numbers(capsys):
    argv = ["train", "--scenario", "sine", "--steps", "15", "--eval-every", "5", "--json", "--seed", "7"]
    first = json_lines(run(argv, capsys)[1])
    second = json_lines(run(argv, capsys)[1])
    ignore = ("seq_per_s", "elapsed_s", "run_folder", "checkpoint")  # two runs, two folders
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ignore} for r in rows]
    assert strip(first) == strip(second)


def test_classification_reports_precision_recall_f1(capsys):
    code, out, _ = run(["train", "--scenario", "sentiment", "--steps", "10", "--eval-every", "10", "--json"], capsys)
    assert code == 0
    final = json_lines(out)[-1]
    for key in ("accuracy", "precision", "recall", "f1", "baseline_accuracy"):
        assert 0.0 <= final[key] <= 1.0


def test_scenarios_lists_every_builtin(capsys):
    code, out, _ = run(["scenarios"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    for name in ("text", "sine", "sentiment", "digits", "adding", "copy", "brackets", "reverse"):
        assert name in names
    assert names[0] == "text"


# ------------------------------------------------------------------ trace


def test_trace_from_checkpoint_needs_no_other_option(capsys, tmp_path):
    ckpt, out = tmp_path / "c.pt", tmp_path / "t.npz"
    assert run(["train", "--scenario", "brackets", "--steps", "3", "--eval-every", "3", "--json",
                "--arch", "gru", "--save", str(ckpt)], capsys)[0] == 0
    code, msg, _ = run(["trace", "--checkpoint", str(ckpt), "--sample", "2", "--out", str(out)], capsys)
    assert code == 0, msg
    data = np.load(out)
    assert {"tokens", "vocab", "h", "gate_r", "gate_z", "gate_n", "grad_h", "grad_x"} <= set(data.files)
    assert "c" not in data.files


def test_trace_input_text_on_the_text_scenario(capsys, tmp_path):
    out = tmp_path / "t.npz"
    code, _, err = run(["trace", "--scenario", "text", "--input-text", "the ", "--out", str(out)], capsys)
    assert code == 0, err
    data = np.load(out)
    assert data["h"].shape[0] == 3 and data["outputs"].shape[0] == 3


@pytest.mark.parametrize("cls", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
def test_trace_plain_torch_state_dict(capsys, tmp_path, cls):
    torch.manual_seed(0)
    rnn = cls(3, 6, num_layers=2, bidirectional=True)
    torch.save(rnn.state_dict(), tmp_path / "w.pt")
    x = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, _, err = run(["trace", "--weights", str(tmp_path / "w.pt"), "--input", str(tmp_path / "x.npy"),
                        "--out", str(tmp_path / "t.npz")], capsys)
    assert code == 0, err
    data = np.load(tmp_path / "t.npz")
    out, _ = rnn(torch.from_numpy(x))
    ours = data["h"][:, 2:].reshape(9, -1)  # last layer, both directions
    assert np.abs(ours - out.detach().numpy()).max() <= 1e-5
    assert data["grad_h"].shape == (9, 4)


# ------------------------------------------------------------------ bad input


class Exploit:
    """A pickle that would create a file if it were ever unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def bad_inputs(tmp):
    (tmp / "bad.toml").write_text("name = 'x'\n[model\narch = 'lstm'\n")
    (tmp / "types.toml").write_text(
        (tmp / "ok.toml").read_text().replace("hidden = ", "hidden = 'many' #") if (tmp / "ok.toml").exists()
        else "name='t'\ntitle='t'\ndescription='t'\ntask='regress'\n[data]\ngenerator='adding'\n"
             "[model]\nhidden='many'\n[train]\n[solved]\nmetric='val_loss'\ngoal=0.1\ndirection='below'\nbaseline='x'\n"
    )
    (tmp / "empty.txt").write_text("")
    (tmp / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    (tmp / "data.csv").write_text("date,price\n2020-01-01,1.0\n2020-01-02,2.0\n")
    (tmp / "image.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    torch.save([1, 2, 3], tmp / "list.pt")
    torch.save({"weight_hh_l0": torch.zeros(8, 2), "weight_ih_l0": torch.zeros(8, 3)}, tmp / "w.pt")
    np.save(tmp / "wide.npy", np.zeros((5, 4), np.float32))
    with open(tmp / "evil.pt", "wb") as fh:
        pickle.dump({"core": Exploit(str(tmp / "pwned"))}, fh)
    good = tmp / "good.pt"
    assert main(["train", "--scenario", "adding", "--seq-len", "10", "--steps", "2", "--eval-every", "2",
                 "--json", "--save", str(good)]) == 0
    (tmp / "truncated.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    t = str(tmp)
    return {
        "malformed scenario": (["train", "--scenario", f"{t}/bad.toml"], "bad.toml"),
        "unknown scenario": (["train", "--scenario", "nosuch"], "nosuch"),
        "wrong field type": (["train", "--scenario", f"{t}/types.toml"], "hidden"),
        "unknown arch": (["train", "--arch", "transformer"], "arch"),
        "non-positive size": (["train", "--hidden", "0"], "--hidden"),
        "nan lr": (["train", "--lr", "nan"], "--lr"),
        "missing text": (["train", "--text", f"{t}/nope.txt"], "nope.txt"),
        "empty text": (["train", "--text", f"{t}/empty.txt"], "empty.txt"),
        "binary text": (["train", "--text", f"{t}/binary.txt"], "binary.txt"),
        "csv without column": (["train", "--csv", f"{t}/data.csv", "--column", "volume"], "price"),
        "not csv": (["train", "--csv", f"{t}/image.csv", "--column", "x"], "image.csv"),
        "not a state_dict": (["trace", "--weights", f"{t}/list.pt", "--input", f"{t}/wide.npy", "--out", f"{t}/o.npz"], "list.pt"),
        "wrong input width": (["trace", "--weights", f"{t}/w.pt", "--input", f"{t}/wide.npy", "--out", f"{t}/o.npz"], "wide.npy"),
        "truncated checkpoint": (["trace", "--checkpoint", f"{t}/truncated.pt", "--out", f"{t}/o.npz"], "truncated.pt"),
        "code-running pickle": (["trace", "--checkpoint", f"{t}/evil.pt", "--out", f"{t}/o.npz"], "evil.pt"),
        "bidirectional next-token": (["train", "--bidirectional"], "bidirectional"),
        "seq-len with a checkpoint": (["train", "--checkpoint", f"{t}/good.pt", "--seq-len", "50"], "--seq-len"),
    }


def test_every_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    cases = bad_inputs(tmp_path)
    capsys.readouterr()
    for name, (argv, must_mention) in cases.items():
        code, _, err = run(argv, capsys)
        lines = err.strip().splitlines()
        assert code == 2, f"{name}: exit {code}, stderr {err!r}"
        assert len(lines) == 1, f"{name}: {err!r}"
        assert "Traceback" not in err and must_mention in lines[0], f"{name}: {lines[0]!r}"
    assert not (tmp_path / "pwned").exists(), "a checkpoint's pickle ran code"


def test_real_command_exits_2_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.run([sys.executable, "-m", "rnn_tui", "train", "--scenario", "adding", "--lr", "-1"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "lr" in proc.stderr and "Traceback" not in proc.stderr
