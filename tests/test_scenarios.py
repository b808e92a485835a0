"""Scenarios and data generators: shapes per task kind, determinism, task invariants,
and one-line UserErrors that name the file and field for every kind of bad input."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnn_tui.core.kinds import IGNORE_INDEX, TASK_KINDS
from rnn_tui.data.generators import GENERATORS, sentiment
from rnn_tui.data.scenario import (
    Scenario,
    Solved,
    builtin_dir,
    csv_scenario,
    list_scenarios,
    load_scenario,
    text_scenario,
)
from rnn_tui.errors import UserError

BUILTINS = ["text", "adding", "brackets", "copy", "digits", "exploding", "reverse", "sentiment", "sine"]
TOKEN_OUT = ("next_token", "tag", "classify", "seq2seq")


def small(name: str) -> Scenario:
    """A built-in with small data, to keep the tests fast."""
    scenario = load_scenario(name)
    sizes = {k: 64 for k in ("train_size", "val_size") if k in scenario.data}
    return scenario.with_data(**sizes) if sizes else scenario


@pytest.fixture(scope="module")
def built() -> dict:
    return {name: small(name).build_data(0) for name in BUILTINS}


# --- the built-ins -----------------------------------------------------------------


def test_builtin_dir_holds_every_builtin():
    assert builtin_dir().is_dir()
    assert sorted(p.stem for p in builtin_dir().glob("*.toml")) == sorted(BUILTINS)
    assert (builtin_dir() / "data" / "text.txt").is_file()


def test_list_scenarios_puts_text_first_then_sorted(tmp_path):
    names = [s.name for s in list_scenarios(cwd=tmp_path)]
    assert names == ["text"] + sorted(BUILTINS[1:])
    # Run from the repository root, ./scenarios *is* the built-in folder: listed once.
    assert [s.name for s in list_scenarios(cwd=builtin_dir().parent)] == names


def test_list_scenarios_adds_the_working_folders_own(tmp_path):
    (tmp_path / "scenarios").mkdir()
    mine = (builtin_dir() / "adding.toml").read_text().replace('name = "adding"', 'name = "mine"')
    (tmp_path / "scenarios" / "mine.toml").write_text(mine)
    scenarios = list_scenarios(cwd=tmp_path)
    assert scenarios[-1].name == "mine" and scenarios[-1].path == tmp_path / "scenarios" / "mine.toml"


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_fields(name):
    scenario = load_scenario(name)
    assert scenario.name == name and scenario.path.stem == name
    assert scenario.task in TASK_KINDS and GENERATORS[scenario.data["generator"]].task == scenario.task
    assert scenario.title and 2 <= scenario.description.count(". ") + 1 <= 6
    # every built-in trains an LSTM, but the one that shows a plain RNN's gradient exploding
    assert scenario.model.arch == ("rnn" if name == "exploding" else "lstm") and 32 <= scenario.model.hidden <= 128
    assert scenario.solved.baseline and "\n" not in scenario.solved.baseline
    assert scenario.sample == ({"temperature": 0.8, "length": 200} if name == "text" else {})


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_layout_matches_base(name, built):
    """Shapes and dtypes of every split exactly as data/base.py's table says."""
    data = built[name]
    assert data.kind == load_scenario(name).task
    for split in (data.train, data.val):
        n, t = split.x.shape[:2]
        assert len(split) == n > 0 and t == data.seq_len
        y = split.y
        if data.kind == "next_token":
            assert split.x.dtype == y.dtype == torch.int64 and y.shape == (n, t)
        elif data.kind == "tag":
            assert y.dtype == torch.int64 and y.shape == (n, t)
        elif data.kind == "forecast":
            assert split.x.dtype == y.dtype == torch.float32 and split.x.dim() == 3 and y.shape == (n, t)
        elif data.kind == "classify":
            assert y.dtype == torch.int64 and y.shape == (n,)
        elif data.kind == "regress":
            assert split.x.dtype == y.dtype == torch.float32 and split.x.dim() == 3 and y.shape == (n,)
        elif data.kind == "seq2seq":
            assert split.x.dtype == y.dtype == split.dec_in.dtype == torch.int64
            assert split.dec_in.shape == y.shape and y.shape[0] == n
            assert (split.dec_in[:, 0] == data.start_token).all()
            assert torch.equal(split.dec_in[:, 1:], y[:, :-1])
        if data.kind != "seq2seq":
            assert split.dec_in is None
        if data.tokens_in:
            assert split.x.min() >= 0 and split.x.max() < data.input_size == len(data.vocab)
        else:
            assert split.x.shape[-1] == data.input_size and torch.isfinite(split.x).all()
        if data.kind in TOKEN_OUT:
            scored = y[y != IGNORE_INDEX]
            assert scored.numel() > 0 and scored.min() >= 0 and scored.max() < data.output_size
            names = data.vocab if data.kind == "next_token" else data.class_names
            assert len(names) == data.output_size
        else:
            assert data.output_size == 1
    assert data.info.get("source")


@pytest.mark.parametrize("name", BUILTINS)
def test_builds_are_deterministic_per_seed(name):
    scenario = small(name)
    a, b, c = scenario.build_data(3), scenario.build_data(3), scenario.build_data(4)
    for one, two in ((a.train, b.train), (a.val, b.val)):
        assert torch.equal(one.x, two.x) and torch.equal(one.y, two.y)
    if name != "text":  # a text file's windows are what they are; all others draw with the seed
        assert not torch.equal(a.train.x, c.train.x)


def test_resizing_train_leaves_validation_alone():
    scenario = small("adding")
    bigger = scenario.with_data(train_size=100).build_data(0)
    assert torch.equal(bigger.val.x, scenario.build_data(0).val.x)


# --- task invariants ---------------------------------------------------------------


def test_adding_has_one_marker_in_each_half_and_sums_them(built):
    data = built["adding"]
    x, y = data.train.x, data.train.y
    half = x.shape[1] // 2
    marker = x[..., 1]
    assert set(marker.unique().tolist()) == {0.0, 1.0}
    assert (marker[:, :half].sum(1) == 1).all() and (marker[:, half:].sum(1) == 1).all()
    assert ((x[..., 0] >= 0) & (x[..., 0] <= 1)).all()
    torch.testing.assert_close((x[..., 0] * marker).sum(1), y)


def test_brackets_target_is_the_depth(built):
    data = built["brackets"]
    step = {"(": 1, ")": -1}
    for xs, ys in zip(data.train.x.tolist(), data.train.y.tolist()):
        depth = 0
        for token, target in zip(xs, ys):
            depth += step.get(data.vocab[token], 0)
            assert 0 <= depth <= len(data.class_names) - 1
            assert data.class_names[target] == str(depth)


def test_copy_recalls_the_symbols_after_go(built):
    data = built["copy"]
    k = load_scenario("copy").data["length"]
    x, y = data.train.x, data.train.y
    assert torch.equal(y[:, -k:], x[:, :k])
    assert (y[:, :-k] == IGNORE_INDEX).all()
    assert [data.vocab[i] for i in x[:, -k - 1].unique().tolist()] == [">"]
    assert data.class_names[-1] == "_" and data.vocab[: len(data.class_names)] == data.class_names
    scored = replace(load_scenario("copy"), data={**load_scenario("copy").data, "score_blanks": True})
    blanks = scored.with_data(train_size=8, val_size=8).build_data(0).train.y
    assert (blanks[:, :-k] == len(data.class_names) - 1).all()


def test_reverse_targets_are_the_source_backwards(built):
    data = built["reverse"]
    for split in (data.train, data.val):
        assert torch.equal(split.y, split.x.flip(1))
    assert data.vocab[data.start_token] == "<go>" and data.vocab[:-1] == data.class_names


def _words(data, row) -> list[str]:
    return [data.vocab[i] for i in row.tolist() if i != 0]


def _reference_label(words: list[str]) -> int:
    """Polarity of the sentiment word, flipped by any negator in the deciding clause."""
    clause = words[words.index("but") + 1 :] if "but" in words else words
    pos = set(sentiment.POSITIVE) | {past for past, _ in sentiment.LIKE_VERBS}
    pos |= {plain for _, plain in sentiment.LIKE_VERBS}
    neg = set(sentiment.NEGATIVE) | {f for forms in sentiment.DISLIKE_VERBS for f in forms}
    (word,) = [w for w in clause if w in pos | neg]
    negated = any(w in ("not", "never", "hardly") for w in clause)
    return int((word in pos) != negated)


def test_sentiment_negation_flips_the_label():
    data = load_scenario("sentiment").with_data(train_size=3000, val_size=2).build_data(0)
    x, y = data.train.x, data.train.y
    assert data.vocab[0] == "<pad>" and data.class_names == ["negative", "positive"]
    assert y.sum().item() == len(y) // 2  # balanced
    seen = {}
    for row, label in zip(x, y.tolist()):
        words = _words(data, row)
        assert len(words) <= sentiment.LONGEST
        assert (row[: len(row) - len(words)] == 0).all()  # left-padded
        assert _reference_label(words) == label, " ".join(words)
        seen[" ".join(words)] = label
    named = data.class_names
    assert named[seen["not bad"]] == "positive" and named[seen["never boring"]] == "positive"
    assert named[seen["not great"]] == "negative"
    assert any(s.startswith("i did not like") and named[v] == "negative" for s, v in seen.items())
    assert any(" but " in s for s in seen)


def test_digits_rows_are_pixels_in_0_1(built):
    data = built["digits"]
    assert data.train.x.shape[1:] == (8, 8) and data.class_names == [str(d) for d in range(10)]
    assert data.train.x.min() == 0 and data.train.x.max() == 1
    assert len(data.train) + len(data.val) == 1797


def test_text_windows_shift_by_one_and_validate_on_the_end(built):
    data = built["text"]
    assert data.joiner == "" and data.vocab == sorted(data.vocab) and data.info["source"] == "text.txt"
    assert torch.equal(data.train.x[:, 1:], data.train.y[:, :-1])
    corpus = (builtin_dir() / "data" / "text.txt").read_text(encoding="utf-8")
    assert 6_000 <= len(corpus.encode()) <= 15_000
    tail = "".join(data.vocab[i] for i in data.val.y[-1].tolist())
    assert corpus.endswith(tail)


def test_sine_targets_are_the_next_input(built):
    data = built["sine"]
    torch.testing.assert_close(data.train.x[:, 1:, 0], data.train.y[:, :-1])


def test_solved_met():
    below = Solved("val_loss", 0.01, "below", "mean")
    above = Solved("accuracy", 0.95, "above", "chance")
    assert below.met(0.005) and not below.met(0.02) and not below.met(math.nan)
    assert above.met(0.96) and not above.met(0.9) and not above.met(math.inf)


def test_with_data_overrides_and_checks():
    adding = load_scenario("adding")
    assert adding.with_data(seq_len=20, train_size=4, val_size=4).build_data(0).seq_len == 20
    with pytest.raises(UserError, match=r"adding\.toml: \[data\] seq_len must be an integer"):
        adding.with_data(seq_len=0)
    with pytest.raises(UserError, match=r"digits\.toml: \[data\] unknown field 'seq_len'"):
        load_scenario("digits").with_data(seq_len=10)


# --- bad scenario files ------------------------------------------------------------

GOOD = """\
title = "Mine"
description = "Add two numbers. It is small."
task = "regress"

[data]
generator = "adding"
seq_len = 10
train_size = 8
val_size = 8

[train]
steps = 10

[solved]
metric = "val_loss"
goal = 0.01
baseline = "answer 1.0 (~0.167 MSE)"
"""


def write(tmp_path: Path, body: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_a_good_file_loads_with_defaults(tmp_path):
    scenario = load_scenario(str(write(tmp_path, GOOD)))
    assert scenario.name == "mine" and scenario.train.steps == 10 and scenario.model.arch == "lstm"
    assert scenario.solved.direction == "below" and scenario.data["seq_len"] == 10
    assert scenario.build_data(0).train.x.shape == (8, 10, 2)


BAD_FILES = {
    "toml syntax": (GOOD.replace('task = "regress"', "task = regress"), r"not valid TOML: .*line 3"),
    "unknown key": ('colour = "red"\n' + GOOD, r"unknown key 'colour'; expected one of name, title"),
    "missing key": (GOOD.replace('title = "Mine"\n', ""), r"missing key 'title'"),
    "wrong type": (GOOD.replace('title = "Mine"', "title = 3"), r"title must be a string, got 3"),
    "unknown task": (GOOD.replace('"regress"', '"regression"'), r"unknown task 'regression'; expected one of next_token"),
    "task mismatch": (GOOD.replace('"regress"', '"forecast"'), r"\[data\] generator 'adding' makes a 'regress' task.*task = 'forecast'"),
    "unknown generator": (GOOD.replace('"adding"', '"adder"'), r"\[data\] unknown generator 'adder'; expected one of text, sine, csv"),
    "no generator": (GOOD.replace('generator = "adding"\n', ""), r"\[data\] missing key 'generator'"),
    "bad seq_len": (GOOD.replace("seq_len = 10", "seq_len = -1"), r"\[data\] seq_len must be an integer from 2 to 1000, got -1"),
    "seq_len type": (GOOD.replace("seq_len = 10", 'seq_len = "ten"'), r"\[data\] seq_len must be an integer, got 'ten'"),
    "unknown data field": (GOOD.replace("seq_len = 10", "seqlen = 10"), r"\[data\] unknown field 'seqlen'; expected one of seq_len"),
    "model field": (GOOD + "[model]\nhiden = 3\n", r"\[model\]: unknown field 'hiden'"),
    "train type": (GOOD.replace("steps = 10", 'steps = "many"'), r"\[train\]: steps must be int"),
    "metric": (GOOD.replace('"val_loss"', '"loss"'), r"\[solved\] unknown metric 'loss'"),
    "metric for task": (GOOD.replace('"val_loss"', '"accuracy"'), r"\[solved\] metric 'accuracy' needs class outputs"),
    "direction": (GOOD.replace("goal = 0.01", 'goal = 0.01\ndirection = "above"'), r"\[solved\] direction for val_loss must be 'below'"),
    "goal": (GOOD.replace("goal = 0.01", "goal = -1"), r"\[solved\] goal must be a positive number"),
    "sample for non-text": (GOOD + "[sample]\nlength = 5\n", r"\[sample\] only a next_token task samples text"),
    "data file": (GOOD.replace('"adding"', '"text"').replace('"regress"', '"next_token"')
                  .replace("train_size = 8\nval_size = 8\n", 'file = "nope.txt"\n'), r"\[data\] file .*nope\.txt: file not found"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_name_file_and_field(tmp_path, case):
    body, message = BAD_FILES[case]
    path = write(tmp_path, body)
    with pytest.raises(UserError, match=message) as err:
        load_scenario(str(path))
    text = str(err.value)
    assert text.startswith(str(path)) and "\n" not in text


def test_unknown_name_lists_the_scenarios():
    with pytest.raises(UserError, match=r"unknown scenario 'adder'; expected one of text, adding, brackets"):
        load_scenario("adder")


def test_missing_toml_file(tmp_path):
    with pytest.raises(UserError, match=r"nothere\.toml: file not found"):
        load_scenario(str(tmp_path / "nothere.toml"))


def test_non_utf8_toml(tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"title = \"\xff\xfe\"\n")
    with pytest.raises(UserError, match=r"bin\.toml: not UTF-8 text"):
        load_scenario(str(path))


# --- --text FILE ---------------------------------------------------------------------

PROSE = "The quick brown fox jumps over the lazy dog. " * 20


def test_text_scenario_on_a_file(tmp_path):
    path = write(tmp_path, PROSE, "fox.txt")
    scenario = text_scenario(path)
    data = scenario.build_data(0)
    assert scenario.task == "next_token" and scenario.path is None and "fox.txt" in scenario.title
    assert data.vocab == sorted(set(PROSE)) and data.info["source"] == "fox.txt"
    assert scenario.model == load_scenario("text").model and scenario.sample
    assert 0 < scenario.solved.goal < 3 and "nats" in scenario.solved.baseline


@pytest.mark.parametrize(
    "content,message",
    [
        (None, r"file not found"),
        (b"", r"file is empty"),
        (b"  \n\n", r"file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"not UTF-8 text \(binary: a NUL byte"),
        ("caf\u00e9 ".encode("latin-1") * 100, r"not UTF-8 text \(undecodable byte"),
        (b"short text", r"too short: 10 characters; needs at least 130 for seq_len 64"),
    ],
)
def test_text_scenario_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "book.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        text_scenario(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


# --- --csv FILE --column NAME -------------------------------------------------------------


def csv_file(tmp_path: Path, values: list[str], header: str = "day,temp", name: str = "w.csv") -> Path:
    lines = [header] + [f"{i},{v}" for i, v in enumerate(values)]
    return write(tmp_path, "\n".join(lines) + "\n", name)


def wave(n: int) -> list[str]:
    return [f"{10 + 5 * math.sin(i / 3):.3f}" for i in range(n)]


def test_csv_scenario_standardises_with_the_training_part(tmp_path):
    values = wave(300)
    scenario = csv_scenario(csv_file(tmp_path, values), "temp", None)
    data = scenario.build_data(0)
    train = torch.tensor([float(v) for v in values[:240]], dtype=torch.float64)
    assert data.info["column"] == "temp" and data.info["rows"] == 300
    assert data.info["mean"] == pytest.approx(float(train.mean()))
    assert data.info["std"] == pytest.approx(float(train.std(unbiased=False)))
    seq_len = scenario.data["seq_len"]
    assert data.train.x.shape == (240 - seq_len, seq_len, 1) and data.val.x.shape == (60 - seq_len, seq_len, 1)
    first = (torch.tensor([float(v) for v in values[: seq_len + 1]]) - data.info["mean"]) / data.info["std"]
    torch.testing.assert_close(data.train.x[0, :, 0], first[:-1].float())
    torch.testing.assert_close(data.train.y[0], first[1:].float())
    assert scenario.solved.metric == "val_loss" and 0 < scenario.solved.goal < 1


def test_csv_missing_values(tmp_path):
    values = wave(300)
    values[4], values[10], values[299] = "", "NA", "nan"
    path = csv_file(tmp_path, values)
    # Line 1 is the header, so row i of the data sits on line i + 2.
    with pytest.raises(UserError, match=r"w\.csv: column 'temp' has 3 missing value\(s\) \(line 6, 12, 301\)"):
        csv_scenario(path, "temp", None)
    filled = csv_scenario(path, "temp", "interpolate").build_data(0)
    assert filled.info["rows"] == 300 and filled.info["filled"] == 3
    dropped = csv_scenario(path, "temp", "drop").build_data(0)
    assert dropped.info["rows"] == 297 and dropped.info["dropped"] == 3


def test_csv_interpolates_linearly_and_holds_the_ends(tmp_path):
    from rnn_tui.data.generators.csv_series import read_column

    path = csv_file(tmp_path, ["", "1", "", "", "4", ""])
    series, _ = read_column(path, "temp", "interpolate")
    assert series.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    series, _ = read_column(path, "temp", "drop")
    assert series.tolist() == [1.0, 4.0]


@pytest.mark.parametrize(
    "make,column,message",
    [
        (lambda p: csv_file(p, wave(300)), "temperature", r"no column 'temperature'; the header \(line 1\) has 'day', 'temp'"),
        (lambda p: write(p, "1,2\n3,4\n5,6\n", "w.csv"), "temp", r"no header row: line 1 holds numbers"),
        (lambda p: (p / "w.csv").write_bytes(b"PK\x03\x04\x00\x00binary") and p / "w.csv", "temp", r"not UTF-8 text"),
        (lambda p: write(p, "lorem ipsum dolor\nsit amet\nconsectetur\n", "w.csv"), "temp", r"no column 'temp'; the header \(line 1\) has 'lorem ipsum dolor'"),
        (lambda p: csv_file(p, wave(5) + ["abc", "12", "x"]), "temp", r"2 non-numeric value\(s\) \(line 7: 'abc', line 9: 'x'\)"),
        (lambda p: csv_file(p, wave(100)), "temp", r"has 100 rows; seq_len 50 needs at least 251 .*use seq_len 19 or less"),
        (lambda p: csv_file(p, ["3"] * 300), "temp", r"column 'temp' is constant"),
        (lambda p: csv_file(p, [""] * 300), "temp", r"column 'temp' has no numbers"),
        (lambda p: p / "none.csv", "temp", r"none\.csv: file not found"),
    ],
)
def test_csv_bad_files(tmp_path, make, column, message):
    path = make(tmp_path)
    with pytest.raises(UserError, match=message) as err:
        csv_scenario(path, column, "interpolate" if "no numbers" in message else None)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_csv_reads_semicolons(tmp_path):
    path = write(tmp_path, "when;level\n" + "\n".join(f"{i};{v}" for i, v in enumerate(wave(300))), "s.csv")
    assert csv_scenario(path, "level", None).build_data(0).info["rows"] == 300


def test_csv_bad_fill_choice(tmp_path):
    with pytest.raises(UserError, match=r"fill_missing must be one of error, interpolate, drop"):
        csv_scenario(csv_file(tmp_path, wave(300)), "temp", "mean")
