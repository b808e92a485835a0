"""Live training: loss curves on a log scale, the numbers, and a "solved" badge.

In compare mode there is one curve per architecture. Curves are downsampled to
at most a few hundred points: plotext's cost grows with the points it draws.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

MAX_POINTS = 300
SPARK = "▁▂▃▄▅▆▇█"
COLORS = {"rnn": "red", "lstm": "cyan", "gru": "green", "esn": "magenta"}


def downsample(xs: list, ys: list, limit: int = MAX_POINTS) -> tuple[list, list]:
    if len(xs) <= limit:
        return xs, ys
    stride = math.ceil(len(xs) / limit)
    return xs[::stride] + [xs[-1]], ys[::stride] + [ys[-1]]


def status_line(snap, baseline: dict | None) -> Text:
    """Progress, then how good it is, then the settings: the line is cropped from the right."""
    m, t = snap.metrics or {}, snap.train
    text = Text.assemble((f"step {snap.step:,} ", "bold"), f"{snap.seq_per_s:,.0f}/s ", no_wrap=True, overflow="crop")
    if snap.status == "paused":
        text.append("⏸ paused (t trains) ", style="bold yellow")
    if snap.diverged:
        text.append(f"DIVERGED at step {snap.diverged.get('step')}", style="bold white on red")
        text.append(" ")
    elif snap.solved:
        text.append("✓ SOLVED", style="bold black on green")
        text.append(" ")
    if m.get("val_loss") is not None:
        text.append(f" val {m['val_loss']:.4g}")
        if baseline:
            text.append(f" (naive {baseline['val_loss']:.3g})", style="dim")
    if "accuracy" in m:
        text.append(f" acc {m['accuracy']:.1%}")
    text.append(f"  lr {t.get('lr', 0):.2g} clip {t.get('clip', 0) or 'off'} {t.get('optimizer', '')}", style="dim")
    return text


def spark_line(label: str, values: list, width: int, color: str) -> Text:
    """The most recent values as a log-scale sparkline, with their range."""
    values = [v for v in values if v and math.isfinite(v) and v > 0]
    values = values[-max(1, width - len(label) - 20):]
    if not values:
        return Text(label + "—", style="dim", no_wrap=True)
    logs = [math.log10(v) for v in values]
    lo, hi = min(logs), max(logs)
    bars = "".join(SPARK[int((x - lo) / (hi - lo + 1e-12) * (len(SPARK) - 1))] for x in logs)
    return Text.assemble((label, "dim"), (bars, color), (f" {values[-1]:.3g} ({min(values):.2g}..{max(values):.2g})", "dim"),
                         no_wrap=True, overflow="crop")


class TrainingPanel(Vertical):
    DEFAULT_CSS = """
    TrainingPanel { height: 1fr; }
    TrainingPanel > #train-status { height: 1; }
    TrainingPanel > #grad-history, TrainingPanel > #loss-spark { height: 1; }
    TrainingPanel > PlotextPlot { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._plotted = None  # what the loss plot was last drawn from

    def compose(self) -> ComposeResult:
        yield Static("training starts…", id="train-status")
        yield Static("", id="grad-history")
        yield Static("", id="loss-spark")
        yield PlotextPlot(id="loss-plot")

    def update_runs(self, snaps: dict, baseline: dict | None, goal_text: str, focus_run: str) -> None:
        snap = snaps.get(focus_run) or next(iter(snaps.values()), None)
        if snap is None or len(self.children) < 4:  # not yet composed, or closing down
            return
        width = self.content_region.width
        # one-line widgets: no layout pass, which would repaint the whole screen
        self.children[0].update(status_line(snap, baseline), layout=False)
        if self.border_subtitle != f"goal: {goal_text}":  # setting it repaints the box
            self.border_subtitle = f"goal: {goal_text}"
        self.children[1].update(spark_line("‖g‖ pre-clip ", snap.grad_norms, width, "yellow"), layout=False)
        self.children[2].update(spark_line("val loss    ", [r.get("val_loss") for r in snap.history], width, "cyan"),
                                layout=False)
        plot = self.children[3]
        drawn_from = [(run, len(s.history), s.history[-1].get("step") if s.history else None)
                      for run, s in snaps.items()], baseline
        if drawn_from == self._plotted:  # the curves change only at evaluations
            return
        self._plotted = drawn_from
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("clear")
        drawn = False
        for run, s in snaps.items():
            rows = [r for r in s.history if r.get("val_loss") is not None and r["val_loss"] > 0]
            if not rows:
                continue
            xs, ys = downsample([r["step"] for r in rows], [r["val_loss"] for r in rows])
            color = COLORS.get(run, "white")
            plt.plot(xs, ys, label=f"{run} val" if len(snaps) > 1 else "val", color=color, marker="braille")
            if len(snaps) == 1:
                train = [r for r in rows if r.get("loss") and r["loss"] > 0]
                if train:
                    tx, ty = downsample([r["step"] for r in train], [r["loss"] for r in train])
                    plt.plot(tx, ty, label="train", color="gray", marker="braille")
            drawn = True
        if drawn and baseline and baseline.get("val_loss", 0) > 0:
            plt.horizontal_line(baseline["val_loss"], color="orange")
        if drawn:
            plt.yscale("log")
        plt.title("loss (log) — orange: naive baseline")
        plot.refresh()
