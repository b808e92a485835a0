"""Scenarios: one TOML file says what to learn, with which model, and when it is learned.

    name, title, description, task     what a person reads, and the task kind
    [data]    generator = "...", plus that generator's fields (see data/generators)
    [model]   core.config.ModelConfig fields      [train]  core.config.TrainConfig fields
    [solved]  metric, goal, direction, baseline   [sample] text only: temperature, length

Everything is checked while loading, and every problem is one line naming the file
and the field, so a person editing a copy of a built-in can fix it without a traceback.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import rnn_tui
from rnn_tui.core.config import MAX_SAMPLE_LENGTH, ModelConfig, TrainConfig, from_dict
from rnn_tui.core.files import not_a_file
from rnn_tui.core.kinds import CLASSIFYING, TASK_KINDS
from rnn_tui.data.base import TaskData
from rnn_tui.data.generators import GENERATORS
from rnn_tui.data.generators.text import read_corpus, unigram_loss
from rnn_tui.errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

METRICS = ("val_loss", "accuracy", "f1")
# Tasks whose outputs are classes, where accuracy and F1 mean something.
DEFAULT_SCENARIO = "text"

_TOP = {"name": str, "title": str, "description": str, "task": str,
        "data": dict, "model": dict, "train": dict, "solved": dict, "sample": dict}
_REQUIRED = ("title", "description", "task", "data", "solved")
_SOLVED = {"metric": str, "goal": float, "direction": str, "baseline": str}
_SAMPLE = {"temperature": float, "length": int, "prompt": str}
_TYPE_NAMES = {str: "a string", dict: "a table", float: "a number", int: "an integer"}


@dataclass(frozen=True)
class Solved:
    """When a run counts as solved: `metric` (a key the trainer reports) past `goal`."""

    metric: str  # "val_loss" | "accuracy" | "f1"
    goal: float
    direction: str  # "below" for val_loss, "above" for accuracy and f1
    baseline: str  # the naive predictor the goal beats, e.g. "predict the mean (~0.167 MSE)"

    def met(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value < self.goal if self.direction == "below" else value > self.goal


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str  # a few plain sentences a student can read
    path: Path | None  # the TOML file it came from; None when made from --text / --csv
    task: str  # one of core.kinds.TASK_KINDS
    data: dict  # {"generator": str, ...that generator's fields, defaults filled in}
    model: ModelConfig
    train: TrainConfig
    solved: Solved
    sample: dict = field(default_factory=dict)  # next_token: temperature, length (prompt)

    def build_data(self, seed: int) -> TaskData:
        """The train and validation tensors; the same seed gives the same tensors."""
        generator = GENERATORS[self.data["generator"]]
        return generator.build(_check_data(self.data, self._where()), seed)

    def with_data(self, **params) -> "Scenario":
        """A copy with some [data] fields replaced (the CLI's --seq-len and friends)."""
        return replace(self, data=_check_data({**self.data, **params}, self._where()))

    def _where(self) -> str:
        return f"{self.path}: [data]" if self.path else f"scenario {self.name}:"


def builtin_dir() -> Path:
    """The built-in scenarios: inside the package when installed from a wheel,
    the repository's top-level scenarios/ folder in a source or editable checkout."""
    package = Path(rnn_tui.__file__).parent
    packaged = package / "builtin_scenarios"
    return packaged if packaged.is_dir() else package.parent / "scenarios"


def _builtin_files() -> list[Path]:
    return sorted(builtin_dir().glob("*.toml"), key=lambda p: (p.stem != DEFAULT_SCENARIO, p.stem))


def _user_files(cwd: Path | None) -> list[Path]:
    """./scenarios/*.toml of `cwd`, unless that folder is the built-in one (a checkout)."""
    folder = (cwd or Path.cwd()) / "scenarios"
    if not folder.is_dir() or folder.resolve() == builtin_dir().resolve():
        return []
    return sorted(folder.glob("*.toml"))


def list_scenarios(cwd: Path | None = None) -> list[Scenario]:
    """Built-ins ("text" first, then by name), then the ones in ./scenarios."""
    return [_load_file(p) for p in _builtin_files() + _user_files(cwd)]


def load_scenario(name_or_path: str) -> Scenario:
    """A scenario by built-in (or ./scenarios) name, such as "adding", or by TOML path."""
    text = str(name_or_path)
    looks_like_path = text.endswith(".toml") or "/" in text or os.sep in text
    if not looks_like_path:
        for path in _builtin_files() + _user_files(None):
            if path.stem == text:
                return _load_file(path)
    if looks_like_path or os.path.lexists(text):
        return _load_file(Path(text))
    names = [p.stem for p in _builtin_files() + _user_files(None)]
    raise UserError(
        f"unknown scenario {text!r}; expected one of {', '.join(names)}, or a path to a .toml file"
    )


# --- reading a TOML file ---------------------------------------------------------


def _load_file(path: Path) -> Scenario:
    path = Path(path)
    why = not_a_file(path)
    if why:
        raise UserError(f"{path}: {why}; expected a scenario .toml file")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read the scenario file ({err.strerror})") from None
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.start}); expected TOML") from None
    except tomllib.TOMLDecodeError as err:  # its message ends "(at line L, column C)"
        raise UserError(f"{path}: not valid TOML: {err}") from None
    return _parse(table, path)


def _fields(table: dict, spec: dict, where: str, required=()) -> None:
    """Unknown, missing and wrongly typed keys of one table, each as a UserError."""
    unknown = sorted(set(table) - set(spec))
    if unknown:
        raise UserError(f"{where}unknown key {unknown[0]!r}; expected one of {', '.join(spec)}")
    for key in required:
        if key not in table:
            raise UserError(f"{where}missing key {key!r}")
    for key, value in table.items():
        expected = spec[key]
        ok = isinstance(value, expected) and not isinstance(value, bool)
        if expected is float:  # TOML writes 1 for 1.0
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise UserError(f"{where}{key} must be {_TYPE_NAMES[expected]}, got {value!r}")


def _parse(table: dict, path: Path) -> Scenario:
    where = f"{path}: "
    _fields(table, _TOP, where, _REQUIRED)
    task = table["task"]
    if task not in TASK_KINDS:
        raise UserError(f"{where}unknown task {task!r}; expected one of {', '.join(TASK_KINDS)}")
    for key in ("title", "description"):
        if not table[key].strip():
            raise UserError(f"{where}{key} is empty; expected some text")
    data = dict(table["data"])
    # A data file is named relative to the TOML file, so a folder can be moved whole.
    file = data.get("file")
    if isinstance(file, str) and file and not Path(file).is_absolute():
        data["file"] = str(path.parent / file)
    data = _check_data(data, f"{where}[data]", task)
    return Scenario(
        name=table.get("name", path.stem),
        title=table["title"].strip(),
        description=" ".join(table["description"].split()),  # TOML line breaks are not meant
        path=path,
        task=task,
        data=data,
        model=from_dict(ModelConfig, table.get("model", {}), where=f"{path}: [model]"),
        train=from_dict(TrainConfig, table.get("train", {}), where=f"{path}: [train]"),
        solved=_parse_solved(table["solved"], task, f"{where}[solved] "),
        sample=_parse_sample(table.get("sample"), task, f"{where}[sample] "),
    )


def _check_data(data: dict, where: str, task: str | None = None, check_file: bool = True) -> dict:
    """The [data] table validated by its generator, defaults filled in."""
    name = data.get("generator")
    if name is None:
        raise UserError(f"{where} missing key 'generator'; expected one of {', '.join(GENERATORS)}")
    if not isinstance(name, str) or name not in GENERATORS:
        raise UserError(
            f"{where} unknown generator {name!r}; expected one of {', '.join(GENERATORS)}"
        )
    generator = GENERATORS[name]
    if task is not None and generator.task != task:
        raise UserError(
            f"{where} generator {name!r} makes a {generator.task!r} task, but the file says "
            f"task = {task!r}; expected task = {generator.task!r}"
        )
    try:
        values = generator.check(data)
    except UserError as err:
        raise UserError(f"{where} {err}") from None
    # Said now, naming the scenario; --text and --csv read their file at once instead.
    why = check_file and values.get("file") and not_a_file(values["file"])
    if why:
        raise UserError(f"{where} file {values['file']}: {why}; expected an existing file")
    return {"generator": name, **values}


def _parse_solved(table: dict, task: str, where: str) -> Solved:
    _fields(table, _SOLVED, where, required=("metric", "goal", "baseline"))
    metric = table["metric"]
    if metric not in METRICS:
        raise UserError(f"{where}unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    if metric != "val_loss" and task not in CLASSIFYING:
        raise UserError(
            f"{where}metric {metric!r} needs class outputs, and a {task} task has none; "
            "expected metric = \"val_loss\""
        )
    natural = "below" if metric == "val_loss" else "above"
    direction = table.get("direction", natural)
    if direction != natural:
        raise UserError(f"{where}direction for {metric} must be {natural!r}, got {direction!r}")
    goal = float(table["goal"])
    high = math.inf if metric == "val_loss" else 1.0
    if not (math.isfinite(goal) and 0 < goal <= high):
        bound = "a positive number" if metric == "val_loss" else "a number above 0 and at most 1"
        raise UserError(f"{where}goal must be {bound}, got {table['goal']!r}")
    if "\n" in table["baseline"] or not table["baseline"].strip():
        raise UserError(f"{where}baseline must be one line naming the naive predictor it beats")
    return Solved(metric, goal, direction, table["baseline"].strip())


def _parse_sample(table: dict | None, task: str, where: str) -> dict:
    if table is None:
        return {}
    if task != "next_token":
        raise UserError(f"{where}only a next_token task samples text; this one is {task}")
    _fields(table, _SAMPLE, where)
    sample = dict(table)
    if "temperature" in sample:
        sample["temperature"] = float(sample["temperature"])
        if not 0 < sample["temperature"] <= 10:
            raise UserError(f"{where}temperature must be a number above 0 and at most 10, "
                            f"got {table['temperature']!r}")
    if "length" in sample and not 1 <= sample["length"] <= MAX_SAMPLE_LENGTH:
        raise UserError(
            f"{where}length must be an integer from 1 to {MAX_SAMPLE_LENGTH}, got {sample['length']!r}"
        )
    return sample


# --- scenarios made from a person's own file --------------------------------------


def text_scenario(path: Path, base: Scenario | None = None, overrides: dict | None = None) -> Scenario:
    """Next-character prediction on any UTF-8 file, with the built-in `text` scenario's settings
    and `overrides` of its [data] fields (such as seq_len)."""
    base = base or load_scenario(DEFAULT_SCENARIO)
    if base.data["generator"] != "text":
        raise UserError(f"--text: scenario {base.name} reads {base.data['generator']}, not text; "
                        "expected a scenario with generator = \"text\"")
    path = Path(path)
    data = _check_data({**base.data, **(overrides or {}), "file": str(path)}, f"{path}:", check_file=False)
    text = read_corpus(path, data["seq_len"])  # missing, binary, empty, too short: now
    # The built-in goal, scaled to this file: the same fraction of its unigram baseline.
    base_text = read_corpus(Path(base.data["file"]), base.data["seq_len"])
    ratio = base.solved.goal / unigram_loss(base_text, base.data["max_vocab"])
    baseline = unigram_loss(text, data["max_vocab"])
    return replace(
        base,
        name=path.name,
        title=f"Text: {path.name}",
        description=(
            f"Predict the next character of {path.name}, one character at a time. "
            "The model sees only the characters so far and learns spelling, words and "
            "layout from scratch. Sample from it to hear how it sounds."
        ),
        path=None,
        data=data,
        solved=Solved(
            "val_loss", round(ratio * baseline, 2), "below",
            f"predict each character's overall frequency (~{baseline:.2f} nats/char)",
        ),
    )


def csv_scenario(path: Path, column: str, fill_missing: str | None, overrides: dict | None = None) -> Scenario:
    """Forecast the next value of one CSV column, with the built-in `sine` scenario's settings
    and `overrides` of the [data] fields (such as seq_len)."""
    base = load_scenario("sine")
    path = Path(path)
    data = {"generator": "csv", "file": str(path), "column": column,
            "fill_missing": fill_missing or "error", "seq_len": base.data["seq_len"], **(overrides or {})}
    data = _check_data(data, f"{path}:", "forecast", check_file=False)
    val = GENERATORS["csv"].build(data, 0).val  # reads the file now: its errors name it
    last = float(((val.x[..., 0] - val.y) ** 2).mean())  # tomorrow = today
    mean = float((val.y**2).mean())  # the training mean is 0 once standardised
    goal, naive = min((last, "repeat the last value"), (mean, "predict the training mean"))
    return replace(
        base,
        name=f"{path.name}:{column}",
        title=f"CSV: {column} in {path.name}",
        description=(
            f"Forecast the next value of the column {column!r}, one row at a time. "
            "The first 80% of the rows train the model; it is judged on the last 20%, a future "
            "it has not seen. Values are standardised, so an MSE of 1 is as wrong as the "
            "series' own spread."
        ),
        path=None,
        task="forecast",
        data=data,
        solved=Solved("val_loss", float(f"{goal:.3g}"), "below", f"{naive} (~{goal:.3g} MSE)"),
    )
