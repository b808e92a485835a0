"""The experiments' answers drawn as lines: what if (and the memory horizon), the
recurrent spectrum, the units that follow a rule.

Each function takes the trainer's ExperimentResult(s) and returns Rich Text lines for a
width; the numbers shown are the result's own, and every figure is labelled.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text

from rnn_tui.ui.widgets.gradients import GUTTER, axis, log_bars, marked, window

SPARK = "▁▂▃▄▅▆▇█"
BRAILLE = 0x2800
DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] of a 2x4 braille cell
ARCH_COLORS = {"rnn": "red", "lstm": "cyan", "gru": "green", "esn": "magenta", "main": "cyan"}


def _finite(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _run_name(run: str) -> str:
    return "" if run == "main" else f"{run}: "


# ------------------------------------------------------------------ what if


def horizon_sentence(result: dict) -> str:
    """The memory horizon in words, with the numbers it comes from (steps 1-based)."""
    dh, k, step = _finite(result["delta_h"]), result["horizon"], result["step"]
    first = dh[0] if dh.size else float("nan")
    if k is None:
        last = dh[-1] / first if dh.size and first > 0 else float("nan")
        return (f"memory horizon: beyond the sequence: ‖h'−h‖ is still {last:.0%} of its first value "
                f"{first:.3g} at the last step")
    return (f"memory horizon: {k} step{'s' * (k != 1)}: ‖h'−h‖ falls below 1% of its first value {first:.3g} "
            f"at step {step + k + 1}")


def horizon_lines(results: dict, width: int, rows: int = 6) -> list[Text]:
    """One run: ‖h'_s − h_s‖ on a log scale from the changed step on, the change of the
    output under it, a step axis and the horizon. Several (compare mode): the horizons
    side by side, one line each, then the focused run's picture."""
    out: list[Text] = []
    ok = {run: r for run, r in results.items() if r.result is not None}
    for run, r in results.items():
        if r.result is None:
            out.append(Text(f"{_run_name(run)}{r.error}", style="bold red"))
    if not ok:
        return out
    first = next(iter(ok.values())).result
    at = f"step {first['step'] + 1}"  # counted from 1, as the Sequence panel counts
    out.append(Text(f"what if, at {at}: {first['perturbation'].replace('->', '→')} "
                    f"(weights of training step {next(iter(ok.values())).step:,})", style="bold"))
    if len(ok) > 1:
        out.append(Text("memory horizon: steps until ‖h'−h‖ < 1% of its value at the changed step", style="dim"))
        for run, r in ok.items():
            k = r.result["horizon"]
            said = "beyond the sequence" if k is None else f"{k} steps"
            dh = _finite(r.result["delta_h"])
            spark = _spark(dh, width - 30)
            out.append(Text.assemble((f"  {run:<5} ", f"bold {ARCH_COLORS.get(run, 'white')}"),
                                     (f"{said:<20} ", "bold"), (spark, ARCH_COLORS.get(run, "white"))))
    for run, r in list(ok.items())[:1 if len(ok) == 1 else 0]:
        out += _horizon_picture(r.result, width, rows)
    return out


def _horizon_picture(result: dict, width: int, rows: int) -> list[Text]:
    step = result["step"]
    dh, do = _finite(result["delta_h"]), _finite(result["delta_output"])
    cols = max(8, width - GUTTER)
    start, end = window(len(dh), 0, cols)
    out = [Text("‖h'_s − h_s‖, last layer (log): how far the change still reaches at each later step", style="dim")]
    out += [marked(f"{label:>{GUTTER}}", bars, 0, "cyan") for label, bars in log_bars(dh, start, end, rows)]
    if np.isfinite(do).any():
        out.append(marked(f"{'Δout ':>{GUTTER}}", _spark(do[start:end], end - start), 0, "magenta"))
    # the axis counts the sequence's steps (1-based), the changed one marked
    ticks = axis(step + start, step + end, 0)
    out.append(marked(f"{'step ':>{GUTTER}}", ticks, 0, "dim"))
    out.append(Text(horizon_sentence(result), style="bold"))
    return out


def _spark(values: np.ndarray, width: int) -> str:
    """Values on a log scale as one line of blocks (blank where NaN or 0), at most `width`."""
    values = values[: max(1, width)]
    good = np.isfinite(values) & (values > 0)
    if not good.any():
        return " " * len(values)
    logs = np.log10(np.where(good, values, 1.0))
    lo, hi = logs[good].min(), logs[good].max()
    idx = ((logs - lo) / (hi - lo + 1e-12) * (len(SPARK) - 1)).astype(int)
    return "".join(SPARK[i] if g else " " for i, g in zip(idx, good))


# ------------------------------------------------------------------ spectrum


def plane(eigenvalues: list, rows: int, cols: int) -> list[Text]:
    """Eigenvalues on the complex plane, braille dots, with the unit circle (dim) and the
    axes: inside the circle a direction shrinks each step, outside it grows."""
    radius = max([1.0] + [math.hypot(re, im) for re, im in eigenvalues]) * 1.08
    w, h = cols * 2, rows * 4
    circle = np.zeros((h, w), bool)
    dots = np.zeros((h, w), bool)

    def put(grid, re, im):
        x = int(round((re / radius + 1) / 2 * (w - 1)))
        y = int(round((1 - (im / radius + 1) / 2) * (h - 1)))
        if 0 <= x < w and 0 <= y < h:
            grid[y, x] = True

    for a in np.linspace(0, 2 * math.pi, 4 * (w + h)):
        put(circle, math.cos(a), math.sin(a))
    for re, im in eigenvalues:
        put(dots, re, im)
    lines = []
    for r in range(rows):
        line = Text()
        for c in range(cols):
            code, mine = 0, False
            for dy in range(4):
                for dx in range(2):
                    y, x = r * 4 + dy, c * 2 + dx
                    if dots[y, x] or circle[y, x]:
                        code |= DOT[dy][dx]
                    mine |= bool(dots[y, x])
            ch = chr(BRAILLE + code) if code else ("·" if r == rows // 2 or c == cols // 2 else " ")
            line.append(ch, style="bold yellow" if mine else "grey50")
        lines.append(line)
    return lines


def radius_words(radius: float, decay: float | None) -> str:
    """One sentence linking the radius to the gradient's decay per step."""
    where = ("well below 1: a signal carried by W_hh alone shrinks at least this much per step, so, with "
             "saturated units shrinking it more, gradients vanish" if radius < 0.9 else
             "above 1: some direction grows each step; unless tanh saturates, gradients can explode"
             if radius > 1.05 else "near 1: signals along the top direction neither shrink nor grow much")
    measured = f"; the gradient panel measures ×{decay:.3f} per step back" if decay is not None else ""
    return f"spectral radius {radius:.3f}: {where}{measured}."


def spectrum_lines(result, width: int, rows: int, decay: float | None, history: list[dict]) -> list[Text]:
    """The first layer's (or the strongest gate block's) eigenvalues on the complex plane
    beside every layer's and gate block's radius, the singular values, the radius over
    training, and the sentence that links it to the gradient."""
    if result.result is None:
        return [Text(result.error or "no answer", style="bold red")]
    entries = result.result
    top = entries[0]
    gate = f", gate {top['gate']}" if top.get("gate") else ""
    out = [Text(f"W_hh of layer 1{gate}: eigenvalues on the complex plane (● yellow; the circle is |λ| = 1)",
                style="bold")]
    side = []
    for e in entries:
        d = " ←" if e["direction"] else ""
        side.append(Text(f"layer {e['layer'] + 1}{d}: radius {e['spectral_radius']:.3f}", style="bold"))
        for name, block in (e.get("gates") or {}).items():
            side.append(Text(f"  {name} block  radius {block['spectral_radius']:.3f}"))
    sv = np.array(top["singular_values"])
    side.append(Text(f"singular values {sv.max():.3g}..{sv.min():.3g}", style="dim"))
    side.append(Text(_spark(sv, 30), style="green"))
    radii = [(r.get("step"), r.get("spectral_radius")) for r in history if r.get("spectral_radius") is not None]
    if radii:
        side.append(Text(f"radius over training, steps {radii[0][0]:,}..{radii[-1][0]:,}", style="dim"))
        side.append(Text(_spark(np.array([v for _, v in radii]), 30) + f" {radii[-1][1]:.3f}", style="cyan"))
    cols = max(10, min(rows * 2 + 2, width // 2))
    picture = plane(top["eigenvalues"], rows, cols)
    for i in range(max(len(picture), len(side))):
        line = picture[i].copy() if i < len(picture) else Text(" " * cols)
        line.append("  ")
        if i < len(side):
            line.append_text(side[i])
        out.append(line)
    out.append(Text(radius_words(top["spectral_radius"], decay)))
    return out
