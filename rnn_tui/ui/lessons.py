"""Lessons: guided experiments, one plain TOML file each, that a teacher can edit or add.

    title     the question the lesson answers, one line
    intro     a few sentences: what is set up, and why (optional)
    steps     ["what to press and what to look at", ...], in order
    [setup]   the command-line options it opens with (rnn-tui --help): scenario, arch,
              hidden, seq_len, clip, ...; options given on the command line win
    [[check]] what the live figures show (below); one table each
    closing   what it all adds up to (optional)

A check is one of a small vocabulary of kinds (`KINDS`), each computed in
`lesson_checks` from what is on screen (the trace, the step, the layer, the latest
training snapshot), never by evaluating anything written in the file:

    kind   one of KINDS                 says   the sentence shown, with {figure}s filled in
    above, below   the check is met when the kind's {value} is past these numbers
    pending        the sentence while it is not met (default: says)
    arch   only for this architecture (rnn, lstm, gru, esn); others say which to switch to

The built-in lessons live in the repository's lessons/ folder (inside the package when
installed); ./lessons/*.toml of the working folder come after them, numbered on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import rnn_tui
from rnn_tui.core.config import TrainConfig
from rnn_tui.errors import UserError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Kind:
    doc: str  # what it computes, for a teacher
    figures: tuple[str, ...]  # the {names} its `says` may use; "value" is what above/below compare
    params: dict = field(default_factory=dict)  # its own fields: name -> type
    says: str = ""  # the sentence when a lesson gives none
    optional: dict = field(default_factory=dict)  # its own fields a check may leave out


KINDS = {
    "decay": Kind("{value}: the gradient's factor per step back on the layer shown, as panel 4 fits it "
                  "(below 1: it shrinks)",
                  ("value", "trend", "steps", "total", "source"),
                  says="‖∂L/∂h_t‖ {trend} ×{value} per step back: over {steps} steps ×{total}"),
    "gate_mean": Kind("{value}: the mean of `gate` over the units, at the step and layer shown",
                      ("value", "gate", "step"), {"gate": str},
                      says="the {gate} gate's mean at step {step} is {value}"),
    "held": Kind("{value}: the longest run of steps in which one unit's `gate` (default f) stays above `level` "
                 "(default 0.9), on the layer shown: a unit holding its memory",
                 ("value", "unit", "first", "last", "mean", "gate"),
                 says="unit {unit}'s {gate} gate stays above the level for {value} steps ({first} to {last})",
                 optional={"gate": str, "level": float}),
    "context": Kind("a token that comes twice with different right answers; {value}: how many of the two "
                    "the model gets",
                    ("value", "token", "step_a", "step_b", "target_a", "target_b", "pred_a", "pred_b"),
                    says="'{token}' at steps {step_a} and {step_b}: right answers {target_a} and {target_b}, "
                         "the model says {pred_a} and {pred_b}"),
    "shape": Kind("the task's input/output shape; {value}: the answers scored; met only for the shape `is` "
                  "names, if given",
                  ("value", "scenario", "kind", "shape", "inputs", "outputs"),
                  says="{scenario} is {shape}: {inputs} steps in, {outputs} answers scored",
                  optional={"is": str}),  # met only for this shape
    "solved": Kind("met once the run met its scenario's goal; {value}: the goal's metric now",
                   ("value", "step", "metric", "goal"),
                   says="solved at step {step}: {metric} {value}, goal {goal}"),
    "diverged": Kind("met while training is diverged; {value}: the step",
                     ("value", "step", "reason"),
                     says="diverged at step {step}: {reason}"),
    "grad_norm": Kind("{value}: the largest gradient norm before clipping over the recent steps; {last}: the latest",
                      ("value", "last", "clip"),
                      says="‖g‖ before clipping reached {value} (now {last}; clip {clip})"),
    "setting": Kind("{value}: the training setting `name` as it is now (lr, clip, optimizer, batch_size, ...)",
                    ("value", "name"), {"name": str},  # a core.config.TrainConfig field
                    says="{name} is {value}"),
    "compare": Kind("compare mode's table; {value}: parameters of arch `a` over those of `b`; seq/s of each",
                    ("value", "a", "b", "a_params", "b_params", "a_speed", "b_speed", "speed_ratio"),
                    {"a": str, "b": str},
                    says="{a} {a_params} parameters, {b} {b_params}: ×{value}; "
                         "{a} {a_speed} seq/s, {b} {b_speed}"),
    "frozen": Kind("{value}: how far h of the sample shown moved since its first trace (max |Δh|); met once "
                   "the outputs moved",
                   ("value", "outputs", "since", "now"),
                   says="since step {since}, h moved {value} and the outputs {outputs}"),
}
COMMON = {"kind": str, "says": str, "pending": str, "above": float, "below": float, "arch": str}
ARCHS = ("rnn", "lstm", "gru", "esn")
SHAPES = ("many-to-one", "many-to-many", "sequence-to-sequence")
# What each kind's own fields may hold (a field not named here takes any value of its type).
CHOICES = {("shape", "is"): SHAPES, ("setting", "name"): tuple(f.name for f in fields(TrainConfig)),
           ("compare", "a"): ("rnn", "lstm", "gru"), ("compare", "b"): ("rnn", "lstm", "gru")}

# The options [setup] may set: the app's command-line options (argparse names), by type.
SETUP = {"scenario": str, "seq_len": int, "arch": str, "hidden": int, "layers": int, "bidirectional": bool,
         "nonlinearity": str, "steps": int, "lr": float, "clip": float, "optimizer": str, "batch_size": int,
         "eval_every": int, "seed": int}
_TOP = {"title": str, "intro": str, "steps": list, "setup": dict, "check": list, "closing": str}
FIGURE = re.compile(r"\{(\w+)\}")  # a {figure} in a check's sentence


@dataclass(frozen=True)
class Check:
    kind: str
    says: str
    above: float | None = None
    below: float | None = None
    arch: str | None = None
    params: dict = field(default_factory=dict)  # the kind's own fields
    pending: str = ""  # the sentence while not met ("": says)


@dataclass(frozen=True)
class Lesson:
    number: int
    path: Path
    title: str
    intro: str
    steps: tuple[str, ...]
    setup: dict
    checks: tuple[Check, ...]
    closing: str = ""


def builtin_dir() -> Path:
    """Inside the package when installed from a wheel, else the checkout's lessons/ folder."""
    package = Path(rnn_tui.__file__).parent
    packaged = package / "builtin_lessons"
    return packaged if packaged.is_dir() else package.parent / "lessons"


def lesson_files(cwd: Path | None = None) -> list[Path]:
    """The built-ins by name, then ./lessons/*.toml (unless that is the built-in folder)."""
    files = sorted(builtin_dir().glob("*.toml"))
    own = (cwd or Path.cwd()) / "lessons"
    if own.is_dir() and own.resolve() != builtin_dir().resolve():
        files += sorted(own.glob("*.toml"))
    return files


def list_lessons(cwd: Path | None = None) -> list[Lesson]:
    return [load(path, n) for n, path in enumerate(lesson_files(cwd), 1)]


def find(ref: str, cwd: Path | None = None) -> Lesson:
    """Lesson N as `rnn-tui lessons` numbers them, or a lesson file by its path."""
    if ref.endswith(".toml"):
        return load(Path(ref), 0)
    files = lesson_files(cwd)
    if not ref.strip().isdigit() or not 1 <= int(ref) <= len(files):
        raise UserError(f"--lesson {ref}: expected a lesson number from 1 to {len(files)} "
                        "(rnn-tui lessons lists them) or a lesson .toml file")
    return load(files[int(ref) - 1], int(ref))


def setup_lesson(args) -> Lesson | None:
    """The lesson `args.lesson` names, its [setup] filled into the options the command line
    left unset (None); None without --lesson."""
    if not getattr(args, "lesson", None):
        return None
    if getattr(args, "weights", None):
        raise UserError("--lesson sets up a scenario to train; it does not go with --weights")
    lesson = find(args.lesson)
    for key, value in lesson.setup.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return lesson


# --- reading a file --------------------------------------------------------------


def load(path: Path, number: int) -> Lesson:
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"{path}: cannot read the lesson ({err.strerror or err}); "
                        "expected a lesson .toml file") from None
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.start}); expected TOML") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{path}: not valid TOML: {err}") from None
    where = f"{path}: "
    _typed(table, _TOP, where, required=("title", "steps", "check"))
    _typed(table.get("setup", {}), SETUP, f"{where}[setup] ")
    steps = table["steps"]
    if not steps or not all(isinstance(s, str) and s.strip() for s in steps):
        raise UserError(f"{where}steps must be a list of sentences, what to press and what to look at")
    if not table["check"] or not all(isinstance(c, dict) for c in table["check"]):
        raise UserError(f"{where}expected one or more [[check]] tables")
    checks = tuple(_check(c, f"{where}check {i}: ") for i, c in enumerate(table["check"], 1))
    return Lesson(number, Path(path), _words(table["title"]), _words(table.get("intro", "")),
                  tuple(_words(s) for s in steps), dict(table.get("setup", {})), checks,
                  _words(table.get("closing", "")))


def _check(table: dict, where: str) -> Check:
    kind = table.get("kind")
    if kind not in KINDS:
        raise UserError(f"{where}unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    spec = KINDS[kind]
    _typed(table, {**COMMON, **spec.params, **spec.optional}, where, required=("kind", *spec.params))
    says, pending = _words(table.get("says", spec.says)), _words(table.get("pending", ""))
    unknown = [name for name in FIGURE.findall(says + pending) if name not in spec.figures]
    if unknown:
        raise UserError(f"{where}{{{unknown[0]}}} is not a figure of a {kind} check; "
                        f"expected {', '.join('{' + f + '}' for f in spec.figures)}")
    for name, choices in [("arch", ARCHS), *((n, c) for (k, n), c in CHOICES.items() if k == kind)]:
        if name in table and table[name] not in choices:
            raise UserError(f"{where}unknown {name} {table[name]!r}; expected one of {', '.join(choices)}")
    return Check(kind, says, table.get("above"), table.get("below"), table.get("arch"),
                 {name: table[name] for name in (*spec.params, *spec.optional) if name in table}, pending)


def _typed(table: dict, spec: dict, where: str, required=()) -> None:
    """Unknown, missing and wrongly typed keys, each one line naming the file."""
    for key in table:
        if key not in spec:
            raise UserError(f"{where}unknown key {key!r}; expected one of {', '.join(spec)}")
    for key in required:
        if key not in table:
            raise UserError(f"{where}missing key {key!r}")
    for key, value in table.items():
        expected = spec[key]
        ok = isinstance(value, expected) and (expected is bool or not isinstance(value, bool))
        if expected is float:  # TOML writes 1 for 1.0
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise UserError(f"{where}{key} must be {expected.__name__}, got {value!r}")


def _words(text: str) -> str:
    """A TOML multi-line string as one paragraph: its line breaks are not meant."""
    return " ".join(text.split())
