"""A lesson's checks, computed from what is on screen: cheap, on the event loop, no torch.

Each kind of `lessons.KINDS` is one function here: it reads the trace on screen (at the
step and layer shown) or the focused run's latest snapshot, and returns its figures,
formatted as the panels format them, or a sentence saying why it cannot tell yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnn_tui.core.kinds import MANY_TO_ONE
from rnn_tui.core.trace_file import Trace
from rnn_tui.ui.labels import token_label
from rnn_tui.ui.lessons import FIGURE, SHAPES, Check, Lesson
from rnn_tui.ui.widgets.gradients import decay
from rnn_tui.ui.widgets.training import solved_step


@dataclass(frozen=True)
class Seen:
    """What the checks read: the screen's view state and what it shows."""

    view: object  # a ViewState: run, snap, info, snaps, compare
    trace: Trace | None
    step: int
    track: int
    first: dict = field(default_factory=dict)  # the first trace seen of each sample (for `frozen`)


@dataclass(frozen=True)
class Outcome:
    figures: dict[str, str]  # name -> the number as shown
    value: float | None  # what `above` and `below` compare with
    met: bool = True  # the kind's own condition
    note: str = ""  # said instead of the sentence while not met


@dataclass(frozen=True)
class Result:
    met: bool
    text: str  # the check's sentence with its live figures, or why it cannot tell yet


class Checker:
    """Evaluates one lesson's checks; remembers the first trace of each sample (for `frozen`)."""

    def __init__(self, lesson: Lesson) -> None:
        self.lesson = lesson
        self._first: dict[tuple, Trace] = {}

    def results(self, view, trace: Trace | None, step: int, track: int) -> list[Result]:
        seen = Seen(view, trace, step, track, self._first)
        return [result(check, seen) for check in self.lesson.checks]


def result(check: Check, seen: Seen) -> Result:
    arch = _arch(seen)
    if check.arch and arch and arch != check.arch:
        return Result(False, f"for the {check.arch.upper()}: this is the {arch.upper()} (a switches)")
    outcome = KIND_FUNCTIONS[check.kind](check, seen)
    if isinstance(outcome, str):
        return Result(False, outcome)
    value = outcome.value
    met = outcome.met and (check.above is None or (value is not None and value > check.above)) \
        and (check.below is None or (value is not None and value < check.below))
    if not outcome.met and outcome.note:
        return Result(False, outcome.note)
    return Result(met, fill(check.says if met or not check.pending else check.pending, outcome.figures))


def fill(says: str, figures: dict[str, str]) -> str:
    """{name}s replaced by figures; nothing else in the text is read."""
    return FIGURE.sub(lambda m: figures.get(m.group(1), "?"), says)


def _arch(seen: Seen) -> str | None:
    run = seen.view.run
    if run is not None:
        return run.model.get("arch")
    return seen.trace.arch if seen.trace is not None else None


def _waiting() -> str:
    return "waiting for the first trace…"


# --- the trace on screen -----------------------------------------------------------


def check_decay(check: Check, seen: Seen) -> Outcome | str:
    tr = seen.trace
    if tr is None:
        return _waiting()
    fit = decay(tr, seen.track)
    if fit is None:
        return "too few steps with a gradient to fit a decay on"
    with np.errstate(over="ignore"):  # a growth over a long sequence may pass float's range: inf
        total = np.float64(fit.factor) ** tr.steps
    return Outcome({"value": f"{fit.factor:.3f}", "trend": "shrinks" if fit.factor < 1 else "grows",
                    "steps": str(tr.steps), "total": f"{total:.1e}", "source": fit.source}, fit.factor)


def _gate(seen: Seen, gate: str) -> np.ndarray | str:
    """[T, H]: one gate on the layer shown, or why there is none."""
    tr = seen.trace
    if tr is None:
        return _waiting()
    if gate not in tr.gates:
        return f"needs a model with a {gate} gate; the {tr.arch.upper()}'s are {', '.join(tr.gates)}"
    return tr.gates[gate][:, seen.track]


def check_gate_mean(check: Check, seen: Seen) -> Outcome | str:
    gate = check.params["gate"]
    values = _gate(seen, gate)
    if isinstance(values, str):
        return values
    t = min(seen.step, len(values) - 1)
    mean = float(np.mean(values[t]))
    return Outcome({"value": f"{mean:.2f}", "gate": gate, "step": str(t + 1)}, mean)


def longest_runs(above: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit of a [T, H] boolean array: the longest run of True in time, and the step it ends at."""
    run, best, end = np.zeros(above.shape[1], int), np.zeros(above.shape[1], int), np.zeros(above.shape[1], int)
    for t, row in enumerate(above):
        run = (run + 1) * row
        longer = run > best
        best, end = np.where(longer, run, best), np.where(longer, t, end)
    return best, end


def check_held(check: Check, seen: Seen) -> Outcome | str:
    gate = check.params.get("gate", "f")
    values = _gate(seen, gate)
    if isinstance(values, str):
        return values
    best, end = longest_runs(values > check.params.get("level", 0.9))
    unit = int(np.argmax(best))
    steps, last = int(best[unit]), int(end[unit])
    if not steps:
        return Outcome({"value": "0", "gate": gate}, 0, met=False,
                       note=f"no unit's {gate} gate is above the level at any step yet")
    held = values[last - steps + 1:last + 1, unit]
    return Outcome({"value": str(steps), "unit": str(unit), "first": str(last - steps + 2), "last": str(last + 1),
                    "mean": f"{held.mean():.2f}", "gate": gate}, steps)


def check_context(check: Check, seen: Seen) -> Outcome | str:
    """The same input token at two steps whose right answers differ, preferring steps the
    model gets right: a model that saw only the token could not get both."""
    tr = seen.trace
    if tr is None:
        return _waiting()
    if tr.kind not in ("tag", "next_token") or tr.tokens is None or tr.targets is None:
        return "needs a scenario with tokens in and a class out at each step (text, brackets)"
    names = tr.class_names or tr.vocab
    targets = np.asarray(tr.targets).astype(int)
    predicted = np.argmax(np.nan_to_num(tr.outputs), axis=-1)
    right = predicted == targets
    first: dict[tuple[int, int], int] = {}  # (token, answer) -> a step, one the model got right if any
    for t in np.flatnonzero((targets >= 0) & ~np.isnan(tr.loss)):
        key = (int(tr.tokens[t]), int(targets[t]))
        if key not in first or (right[t] and not right[first[key]]):
            first[key] = int(t)
    pairs = []  # (answers right, -first step, a, b): a token's two answers, the right ones first
    for token in {token for token, _ in first}:
        steps = sorted((s for (tok, _), s in first.items() if tok == token), key=lambda s: (not right[s], s))
        if len(steps) >= 2:
            a, b = sorted(steps[:2])
            pairs.append((int(right[a]) + int(right[b]), -a, a, b))
    if not pairs:
        return "no token on screen comes twice with different answers; n shows another sample"
    score, _, a, b = max(pairs)
    return Outcome({"value": str(score), "token": _name(tr.vocab, tr.tokens[a]),
                    "step_a": str(a + 1), "step_b": str(b + 1),
                    "target_a": _name(names, targets[a]), "target_b": _name(names, targets[b]),
                    "pred_a": _name(names, predicted[a]), "pred_b": _name(names, predicted[b])}, score, met=score == 2)


def _name(names: list[str] | None, index) -> str:
    index = int(index)
    return token_label(names[index]) if names and 0 <= index < len(names) else str(index)


def shape_of(kind: str) -> str:
    many_to_one, many_to_many, seq2seq = SHAPES
    return seq2seq if kind == "seq2seq" else many_to_one if kind in MANY_TO_ONE else many_to_many


def check_shape(check: Check, seen: Seen) -> Outcome | str:
    tr = seen.trace
    if tr is None:
        return _waiting()
    if tr.kind == "core":
        return "a bare core has no task, so no shape"
    shape = shape_of(tr.kind)
    scored = int(np.count_nonzero(~np.isnan(tr.loss)))
    scenario = tr.meta.get("scenario") or (seen.view.run.scenario if seen.view.run else "this scenario")
    return Outcome({"value": str(scored), "scenario": str(scenario), "kind": tr.kind, "shape": shape,
                    "inputs": str(tr.decoder_start or tr.steps), "outputs": str(scored)},
                   scored, met=check.params.get("is", shape) == shape)


def check_frozen(check: Check, seen: Seen) -> Outcome | str:
    """How far h and the outputs of the sample on screen moved since the first trace of it."""
    tr, run = seen.trace, seen.view.run
    if tr is None:
        return _waiting()
    key = (run.uid if run else None, tr.meta.get("sample"), tr.arch, tr.h.shape)
    first = seen.first.setdefault(key, tr)
    since, now = first.meta.get("step"), tr.meta.get("step")
    moved_h = float(np.max(np.abs(tr.h - first.h)))
    moved_out = float(np.nanmax(np.abs(tr.outputs - first.outputs), initial=0.0))
    figures = {"value": f"{moved_h:.1e}", "outputs": f"{moved_out:.2g}", "since": f"{since}", "now": f"{now}"}
    if since == now:
        return Outcome(figures, moved_h, met=False, note=f"waiting for weights newer than step {since}…")
    return Outcome(figures, moved_h, met=moved_out > 0)


# --- the training numbers ------------------------------------------------------------


def _snap(seen: Seen):
    return seen.view.snap if seen.view.run is not None else None


def check_solved(check: Check, seen: Seen) -> Outcome | str:
    snap, run = _snap(seen), seen.view.run
    if snap is None or not run.goal:
        return "waiting for the first training numbers…"
    metric, goal = run.goal["metric"], run.goal["goal"]
    at = solved_step(snap.history, run.goal)
    current = (snap.metrics or {}).get(metric)
    shown = "—" if current is None else f"{current:.4g}"
    figures = {"value": shown, "step": f"{at:,}" if at is not None else "—", "metric": metric,
               "goal": f"{run.goal['direction']} {goal:g}"}
    if at is None and not snap.solved:
        return Outcome(figures, current, met=False,
                       note=f"not solved yet at step {snap.step:,}: {metric} {shown}, goal {figures['goal']}")
    return Outcome(figures, current)


def check_diverged(check: Check, seen: Seen) -> Outcome | str:
    snap = _snap(seen)
    if snap is None:
        return "waiting for the first training numbers…"
    if not snap.diverged:
        return Outcome({}, None, met=False, note=f"not diverged: training is {snap.status} at step {snap.step:,}")
    step = snap.diverged.get("step")
    return Outcome({"value": str(step), "step": f"{step:,}", "reason": str(snap.diverged.get("reason"))}, step)


def _clip(value) -> str:
    return f"{value:g}" if value else "off"


def check_grad_norm(check: Check, seen: Seen) -> Outcome | str:
    snap = _snap(seen)
    norms = [v for v in (snap.grad_norms if snap else []) if np.isfinite(v)]
    if not norms:
        return "waiting for the first training steps…"
    top = max(norms)
    return Outcome({"value": f"{top:.3g}", "last": f"{norms[-1]:.3g}", "clip": _clip(snap.train.get("clip"))}, top)


def check_setting(check: Check, seen: Seen) -> Outcome | str:
    snap, name = _snap(seen), check.params["name"]
    if snap is None:
        return "waiting for the first training numbers…"
    value = snap.train.get(name)
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    shown = _clip(value) if name == "clip" else f"{value:g}" if number is not None else str(value)
    return Outcome({"value": shown, "name": name}, number)


def check_compare(check: Check, seen: Seen) -> Outcome | str:
    view, a, b = seen.view, check.params["a"], check.params["b"]
    if not view.compare:
        return "compare mode only: press c"
    runs = [(view.info.get(r), view.snaps.get(r)) for r in (a, b)]
    if any(info is None or snap is None or not snap.seq_per_s for info, snap in runs):
        return f"waiting for the {a} and {b} runs' first numbers…"
    (ia, sa), (ib, sb) = runs
    ratio = ia.parameters / ib.parameters
    return Outcome({"value": f"{ratio:.2f}", "a": a.upper(), "b": b.upper(), "a_params": f"{ia.parameters:,}",
                    "b_params": f"{ib.parameters:,}", "a_speed": f"{sa.seq_per_s:,.0f}",
                    "b_speed": f"{sb.seq_per_s:,.0f}", "speed_ratio": f"{sa.seq_per_s / sb.seq_per_s:.2f}"}, ratio)


KIND_FUNCTIONS = {"decay": check_decay, "gate_mean": check_gate_mean, "held": check_held,
                  "context": check_context, "shape": check_shape, "solved": check_solved,
                  "diverged": check_diverged, "grad_norm": check_grad_norm, "setting": check_setting,
                  "compare": check_compare, "frozen": check_frozen}
