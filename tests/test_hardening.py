"""Issue 12's bad inputs, one by one: each is exit status 2 and one line naming the file or
option, what was wrong and what was expected; no traceback, no warning, nothing written.

Every case here once failed: a traceback, a silent success, or a misleading line.
"""

from __future__ import annotations

import os
import pickle
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

import rnn_tui
from rnn_tui.cli import build_parser
from rnn_tui.training import protocol as p
from rnn_tui.training.fake import FakeTrainerClient
from tests.promise import call, check_kept, refused, temp_files
from tests.test_cli import in_tmp  # noqa: F401 - every test runs in its own empty folder

QUICK = ["--seq-len", "10", "--steps", "2", "--eval-every", "2"]
ADDING = ["train", "--scenario", "adding", *QUICK]
SCENARIOS = Path(rnn_tui.__file__).parent.parent / "scenarios"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Small real checkpoints: "adding" (vectors) and "text" (characters)."""
    folder = tmp_path_factory.mktemp("trained")
    for name, options in (("adding", ADDING[1:]), ("text", ["--scenario", "text", "--hidden", "16",
                                                            "--steps", "2", "--eval-every", "2"])):
        result = call(["train", *options, "--no-run-folder", "--json", "--save", str(folder / f"{name}.pt")])
        assert result.code == 0, result.err
    return {name: folder / f"{name}.pt" for name in ("adding", "text")}


@dataclass
class Case:
    argv: list[str]
    mentions: tuple[str, ...]  # words the one line must hold
    written: Path | None = None  # must not exist afterwards
    never: tuple[str, ...] = field(default=())  # words the line must not hold


def edited_checkpoint(source: Path, target: Path, edit) -> str:
    payload = torch.load(source, weights_only=True)
    edit(payload)
    torch.save(payload, target)
    return str(target)


def set_key(*keys_and_value):
    """An edit that sets payload[k1][k2]... = value, or removes the key when value is `...`."""
    *keys, value = keys_and_value

    def edit(payload):
        inner = payload
        for key in keys[:-1]:
            inner = inner[key]
        if value is ...:
            inner.pop(keys[-1], None)
        else:
            inner[keys[-1]] = value
    return edit


def checkpoint_case(name: str, *edit, mentions: tuple[str, ...] = ()):
    def build(tmp: Path, trained: dict) -> Case:
        path = edited_checkpoint(trained["adding"], tmp / f"{name}.pt", set_key(*edit))
        out = tmp / "o.npz"
        return Case(["trace", "--checkpoint", path, "--out", str(out)], (f"{name}.pt", *mentions), out)
    return build


def rnn_state(**changes) -> dict:
    """torch.nn.RNN(3, 4)'s state_dict, with tensors replaced (or removed: None)."""
    torch.manual_seed(0)
    state = dict(torch.nn.RNN(3, 4).state_dict())
    for name, tensor in changes.items():
        state.pop(name) if tensor is None else state.__setitem__(name, tensor)
    return state


def with_nan(name: str, value: float) -> dict:
    tensor = rnn_state()[name].clone()
    tensor.view(-1)[0] = value
    return rnn_state(**{name: tensor})


def weights_case(name: str, state, mentions: tuple[str, ...] = (), never: tuple[str, ...] = ()):
    """trace --weights with `state` (a dict to torch.save, or bytes to write as they are)."""
    def build(tmp: Path, trained: dict) -> Case:
        path = tmp / f"{name}.pt"
        path.write_bytes(state) if isinstance(state, bytes) else torch.save(state, path)
        np.save(tmp / "x.npy", np.zeros((5, 3), np.float32))
        out = tmp / "o.npz"
        return Case(["trace", "--weights", str(path), "--input", str(tmp / "x.npy"), "--out", str(out)],
                    (f"{name}.pt", *mentions), out, never)
    return build


def input_case(name: str, write, mentions: tuple[str, ...], never: tuple[str, ...] = ()):
    """trace --input with a file that `write(path)` makes."""
    def build(tmp: Path, trained: dict) -> Case:
        torch.save(rnn_state(), tmp / "w.pt")
        path = tmp / name
        write(path)
        out = tmp / "o.npz"
        return Case(["trace", "--weights", str(tmp / "w.pt"), "--input", str(path), "--out", str(out)],
                    (name, *mentions), out, never)
    return build


def scenario_case(name: str, base: str, old: str, new: str, mentions: tuple[str, ...], options=()):
    """A copy of a built-in scenario with one line changed."""
    def build(tmp: Path, trained: dict) -> Case:
        text = (SCENARIOS / f"{base}.toml").read_text()
        assert old in text
        (tmp / f"{name}.toml").write_text(text.replace(old, new, 1))
        return Case(["train", "--scenario", str(tmp / f"{name}.toml"), *options], (f"{name}.toml", *mentions),
                    tmp / "runs")
    return build


def read_only_folder(tmp: Path) -> Path:
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return folder
    if os.path.isdir("/proc/sys") and not os.access("/proc/sys", os.W_OK):  # root writes anywhere else
        return Path("/proc/sys")
    pytest.skip("no read-only folder on this machine")


def flipped(trained: dict, target: Path) -> str:
    raw = bytearray(trained["adding"].read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(b ^ 0xFF for b in raw[middle:middle + 64])
    target.write_bytes(raw)
    return str(target)


def csv_of(path: Path, values) -> str:
    path.write_text("x\n" + "".join(f"{v!r}\n" for v in values))
    return str(path)


def text_of(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def named_pipe(path: Path) -> str:
    os.mkfifo(path)
    return str(path)


def text_scenario_reading(tmp: Path, file: str) -> str:
    text = (SCENARIOS / "text.toml").read_text()
    start = text.index("\nfile = ") + 1
    end = text.index("\n", start)
    (tmp / "mine.toml").write_text(text[:start] + f'file = "{file}"' + text[end:])
    return str(tmp / "mine.toml")


CASES = {
    # --- a text's vocabulary cap, asked of data that has none
    "--max-vocab on adding": lambda tmp, ck: Case([*ADDING, "--max-vocab", "40"], ("--max-vocab", "adding", "text"),
                                                  tmp / "runs"),
    "--max-vocab on a CSV": lambda tmp, ck: Case(["train", "--csv", csv_of(tmp / "s.csv", [float(i % 7) for i in
                                                  range(300)]), "--column", "x", "--max-vocab", "40"],
                                                 ("--max-vocab", "CSV"), tmp / "runs"),
    # --- seeds: numpy takes 0 to 2**32 - 1
    "train --seed -1": lambda tmp, ck: Case([*ADDING, "--seed", "-1"], ("--seed", "4294967295"), tmp / "runs"),
    "train --seed 2**64": lambda tmp, ck: Case([*ADDING, "--seed", str(2**64)], ("--seed",), tmp / "runs"),
    "trace --seed -1": lambda tmp, ck: Case(["trace", "--checkpoint", str(ck["adding"]), "--seed", "-1",
                                             "--out", str(tmp / "o.npz")], ("--seed",), tmp / "o.npz"),
    "sample --seed -1": lambda tmp, ck: Case(["sample", "--checkpoint", str(ck["text"]), "--seed", "-1",
                                              "--length", "3"], ("--seed",)),
    "generator a list": scenario_case("listed", "adding", 'generator = "adding"', "generator = []",
                                      ("generator",), QUICK),
    "scenario seed = -1": scenario_case("seeded", "adding", "[train]\n", "[train]\nseed = -1\n", ("seed",), QUICK),
    "checkpoint seed = -1": checkpoint_case("seeded", "meta", "train", "seed", -1, mentions=("seed",)),
    # --- plain torch.nn weights and their input
    "int64 weight_hh_l0": weights_case("int64", rnn_state(weight_hh_l0=torch.zeros(4, 4, dtype=torch.int64)),
                                       ("weight_hh_l0", "int64")),
    "1-d weight_hh_l0": weights_case("flat", rnn_state(weight_hh_l0=torch.zeros(4)), ("weight_hh_l0", "(4,)")),
    "0-d weight_hh_l0": weights_case("scalar", rnn_state(weight_hh_l0=torch.tensor(1.0)), ("weight_hh_l0",)),
    "no weight_ih_l0": weights_case("no-ih", rnn_state(weight_ih_l0=None), ("weight_ih_l0",)),
    "NaN weights": weights_case("nan", with_nan("bias_hh_l0", float("nan")), ("bias_hh_l0", "NaN")),
    "inf weights": weights_case("inf", with_nan("weight_ih_l0", float("inf")), ("weight_ih_l0", "infinite")),
    "random bytes as .pt": weights_case("random", np.random.default_rng(0).bytes(4096), ("binary",),
                                        ("Python objects",)),
    "a plain pickle": weights_case("pickled", pickle.dumps({"weight_hh_l0": [1.0]}), ("pickle",)),
    "--input an .npz": input_case("x.npz", lambda path: np.savez(path, x=np.zeros((5, 3))), ("zip", ".npy")),
    "--input complex": input_case("c.npy", lambda path: np.save(path, np.zeros((5, 3), np.complex64)),
                                  ("complex64",)),
    "--input text": input_case("t.npy", lambda path: path.write_text("1 2 3\n4 5 6\n"), ("text",), ("pickled",)),
    # --- where output goes
    "--out in a missing folder": lambda tmp, ck: Case(
        ["trace", "--checkpoint", str(ck["adding"]), "--out", str(tmp / "nope" / "o.npz")],
        ("--out", "does not exist"), tmp / "nope"),
    "--out a folder": lambda tmp, ck: Case(["trace", "--checkpoint", str(ck["adding"]), "--out", str(tmp)],
                                           ("--out", "a folder")),
    "--save a folder": lambda tmp, ck: Case([*ADDING, "--save", str(ck["adding"].parent)],
                                            ("--save", "a folder"), tmp / "runs"),
    "--save a read-only place": lambda tmp, ck: Case([*ADDING, "--save", str(read_only_folder(tmp) / "x.pt")],
                                                     ("--save", "read-only"), tmp / "runs"),
    "--save a named pipe": lambda tmp, ck: Case([*ADDING, "--save", named_pipe(tmp / "pipe")],
                                                ("--save", "named pipe"), tmp / "runs"),
    # --- checkpoints whose structure is wrong though they load
    "no meta": checkpoint_case("no-meta", "meta", ..., mentions=("meta",)),
    "meta a string": checkpoint_case("meta-str", "meta", "text", mentions=("meta",)),
    "model None": checkpoint_case("model-none", "meta", "model", None, mentions=("meta.model",)),
    "step a string": checkpoint_case("step-str", "meta", "step", "5", mentions=("meta.step",)),
    "step negative": checkpoint_case("step-neg", "meta", "step", -5, mentions=("meta.step", "-5")),
    "source a string": checkpoint_case("source-str", "meta", "source", "adding", mentions=("meta.source",)),
    "source.data a string": checkpoint_case("data-str", "meta", "source", "data", "x",
                                            mentions=("meta.source.data",)),
    "core a string": checkpoint_case("core-str", "core", "x", mentions=("core",)),
    "64 bytes flipped": lambda tmp, ck: Case(["trace", "--checkpoint", flipped(ck, tmp / "flipped.pt"),
                                              "--out", str(tmp / "o.npz")], ("flipped.pt",), tmp / "o.npz"),
    # --- options that would run for ever
    "sample --length 10**12": lambda tmp, ck: Case(["sample", "--checkpoint", str(ck["text"]), "--length",
                                                    str(10**12)], ("--length", "100000")),
    # --- one rule for typed text
    "sample --prompt unknown": lambda tmp, ck: Case(["sample", "--checkpoint", str(ck["text"]),
                                                     "--prompt", "caf\u00e9 \u2603", "--length", "3"],
                                                    ("--prompt", "'\u00e9'", "'\u2603'")),
    # --- data files
    "CSV of +-1e308": lambda tmp, ck: Case(
        ["train", "--csv", csv_of(tmp / "huge.csv", [1e308, -1e308] * 150), "--column", "x", "--steps", "1"],
        ("huge.csv", "'x'"), tmp / "runs", ("nan", "constant")),
    "/dev/null as --text": lambda tmp, ck: Case(["train", "--text", os.devnull, "--steps", "1"],
                                                (os.devnull, "device"), tmp / "runs", ("folder",)),
    "a folder as --scenario": lambda tmp, ck: Case(["train", "--scenario", str(tmp), "--steps", "1"],
                                                   ("folder", ".toml"), tmp / "runs"),
    "a folder as a scenario's file": lambda tmp, ck: Case(
        ["train", "--scenario", text_scenario_reading(tmp, "."), "--steps", "1"], ("mine.toml", "folder")),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_and_exit_2(name, tmp_path, trained):
    case = CASES[name](tmp_path, trained)
    line = refused(call(case.argv), *case.mentions, written=case.written)
    for word in case.never:
        assert word not in line, line
    assert "expected" in line or "must be" in line, f"says not what was expected: {line}"


def command(argv: list[str], cwd: Path, **options) -> subprocess.CompletedProcess:
    """`rnn-tui ARGV` as its own process: for what must not happen to the test's own."""
    env = {**os.environ, "PYTHONPATH": str(Path(rnn_tui.__file__).parent.parent)}
    return subprocess.run([sys.executable, "-m", "rnn_tui", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300, **options)


def test_a_write_past_the_file_size_limit_keeps_the_old_file(tmp_path, trained):
    target = tmp_path / "kept.pt"
    target.write_bytes(trained["adding"].read_bytes())
    before = target.read_bytes()
    limit = len(before) // 4

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = command([*ADDING, "--no-run-folder", "--json", "--save", str(target)], tmp_path, preexec_fn=small_files)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "kept.pt" in proc.stderr and "too large" in proc.stderr.lower()
    assert target.read_bytes() == before and not temp_files(tmp_path)


def test_a_million_threads_are_refused(tmp_path):
    proc = command([*ADDING, "--threads", str(10**6)], tmp_path)  # once: never finished starting them
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--threads" in proc.stderr and "256" in proc.stderr and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("data", [
    lambda tmp: ["--text", text_of(tmp / "short.txt", "to be or not to be\n" * 2)],
    lambda tmp: ["--csv", csv_of(tmp / "short.csv", [float(i % 7) for i in range(30)]), "--column", "x"],
], ids=["--text", "--csv"])
def test_seq_len_is_applied_before_a_short_file_is_judged(tmp_path, data):
    result = call(["train", *data(tmp_path), "--seq-len", "4", "--hidden", "4", "--steps", "1", "--no-run-folder"])
    check_kept(result)
    assert result.code == 0, result.err


def test_a_checkpoint_without_a_checksum_still_loads(tmp_path, trained):
    old = edited_checkpoint(trained["adding"], tmp_path / "old.pt", set_key("meta", "checksum", ...))
    result = call(["trace", "--checkpoint", old, "--out", str(tmp_path / "o.npz")])
    check_kept(result)
    assert result.code == 0 and (tmp_path / "o.npz").exists()


def test_a_prompt_the_vocabulary_holds_still_samples(trained):
    result = call(["sample", "--checkpoint", str(trained["text"]), "--prompt", "the ", "--length", "5"])
    assert result.code == 0, result.err


@pytest.mark.parametrize("write", [
    lambda tmp, ck: [*ADDING, "--no-run-folder", "--save", str(tmp / "new.pt")],
    lambda tmp, ck: ["trace", "--checkpoint", str(ck["adding"]), "--out", str(tmp / "new.npz")],
], ids=["train --save", "trace --out"])
def test_a_killed_writes_temp_file_goes_at_the_next_write_in_its_folder(tmp_path, trained, write):
    stale, young = tmp_path / ".old.pt.k1ll3d00.tmp", tmp_path / ".other.pt.wr1t1ng0.tmp"
    for path in (stale, young):
        path.write_bytes(b"half a file")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    assert call(write(tmp_path, trained)).code == 0
    assert not stale.exists(), "a killed write's temp file stays forever"
    assert young.exists(), "a temp file another process may be writing was removed"


# ------------------------------------------------------------------ the app's trainer


def fatal(argv: list[str]) -> str:
    """The one line the app's trainer answers a bad start with."""
    client = FakeTrainerClient({"options": build_parser(None).parse_args(argv)})
    client.start()
    reasons = [event.reason for event in client.poll() if isinstance(event, p.Fatal)]
    assert len(reasons) == 1, reasons
    return reasons[0]


def test_the_apps_trainer_names_the_option(tmp_path):
    line = fatal(["--scenario", "adding", "--steps", str(10**10)])
    assert line.startswith("--steps") and "1000000000" in line


def test_the_apps_trainer_names_a_scenarios_bad_seed(tmp_path):
    CASES["scenario seed = -1"](tmp_path, {})
    line = fatal(["--scenario", str(tmp_path / "seeded.toml")])
    assert "seeded.toml" in line and "seed must be an integer from 0 to 4294967295" in line


def overflowing(tmp_path: Path) -> tuple[str, str]:
    """(weights, inputs): a relu core whose W_hh grows the state step after step, inf by
    step 37 of 60."""
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 8, nonlinearity="relu")
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(30)
    torch.save(rnn.state_dict(), tmp_path / "w.pt")
    np.save(tmp_path / "x.npy", np.ones((60, 3)))
    return str(tmp_path / "w.pt"), str(tmp_path / "x.npy")


def test_a_state_that_overflows_is_refused_not_written_as_nan(tmp_path):
    weights, inputs = overflowing(tmp_path)
    out = tmp_path / "t.npz"
    line = refused(call(["trace", "--weights", weights, "--input", inputs, "--nonlinearity", "relu",
                         "--out", str(out)]),
                   "w.pt", "x.npy", "overflows float32 at step 37 of 60", "expected", written=out)
    assert "nan" not in line.lower()


def test_a_huge_but_finite_loss_is_traced_in_float64(tmp_path):
    rnn = torch.nn.RNN(3, 8, nonlinearity="relu")
    torch.save(rnn.state_dict(), tmp_path / "w.pt")
    np.save(tmp_path / "x.npy", np.full((6, 3), 1e30))  # h ~1e30: its square passes float32's range
    result = call(["trace", "--weights", str(tmp_path / "w.pt"), "--input", str(tmp_path / "x.npy"),
                   "--nonlinearity", "relu", "--out", str(tmp_path / "t.npz")])
    check_kept(result)
    assert result.code == 0 and "L = " in result.out and "inf" not in result.out


def test_a_scenario_prompt_outside_the_vocabulary_is_said(tmp_path):
    text = (SCENARIOS / "text.toml").read_text().replace('file = "data/text.txt"',
                                                         f'file = "{SCENARIOS / "data" / "text.txt"}"')
    (tmp_path / "snow.toml").write_text(text + '\n[sample]\nprompt = "☃ The"\n' if "[sample]" not in text
                                        else text.replace("[sample]", '[sample]\nprompt = "☃ The"', 1))
    result = call(["train", "--scenario", str(tmp_path / "snow.toml"), "--hidden", "8", "--steps", "1",
                   "--eval-every", "1", "--no-run-folder"])
    check_kept(result)
    assert result.code == 0
    assert "note: the scenario's [sample] prompt holds '☃', not in the vocabulary" in result.err
