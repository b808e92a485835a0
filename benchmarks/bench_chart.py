"""Time to build the loss chart: rnn-tui's braille chart against plotext, same data, same run.

2,000 evaluation rows (train and val loss, a naive baseline), drawn at 70x12 (the
training panel at 120 columns) and 190x30. "app" downsamples to at most 300 points
first, as the training panel does; "raw" draws all 2,000. plotext's time is its
`build()` (what textual-plotext calls on every repaint), without the conversion of
its ANSI output that textual-plotext adds; the chart's is `render_chart` plus the
strips the widget caches. Compare mode: three curves of 2,000 points each.

    python benchmarks/bench_chart.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from rich.segment import Segment
from textual.strip import Strip

from rnn_tui.ui.widgets.chart import Series, render_chart
from rnn_tui.ui.widgets.training import COLORS, downsample, marker

SIZES = ((70, 12), (190, 30))
BASELINE = 0.167


def data(n: int = 2000, seed: int = 0, scale: float = 1.0) -> tuple[list, list, list]:
    rng = random.Random(seed)
    steps = [10 * i for i in range(1, n + 1)]
    val = [scale * (0.7 * math.exp(-s / 4000) + 0.002) * math.exp(rng.gauss(0, 0.08)) for s in steps]
    train = [v * math.exp(rng.gauss(0.05, 0.1)) for v in val]
    return steps, val, train


def ours(curves: list[tuple[str, list, list, str, str, bool]], width: int, height: int) -> list[Strip]:
    series = [Series(label, xs, ys, color=color, marker=mark, dashed=dashed)
              for label, xs, ys, color, mark, dashed in curves]
    return [Strip(Segment.apply_style(line, None)) for line in render_chart(series, width, height, BASELINE)]


def theirs(curves, width: int, height: int) -> str:
    import plotext as plt

    plt.clear_data()
    plt.clear_figure()
    plt.theme("clear")
    for label, xs, ys, color, _, _ in curves:
        plt.plot(xs, ys, label=label, color=color if color != "grey62" else "gray", marker="braille")
    plt.horizontal_line(BASELINE, color="orange")
    plt.yscale("log")
    plt.title("loss (log)")
    plt.plotsize(width, height)
    return plt.build()


def timed(fn, repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    try:
        import plotext  # noqa: F401
    except ImportError:
        plotext = None
        print("plotext is not installed: timing the chart only (pip install plotext to compare)")
    steps, val, train = data()
    single = [("train", steps, train, "grey62", "", True), ("val", steps, val, "cyan", "", False)]
    compare = [(arch, *data(seed=i, scale=1 + i)[:2], COLORS[arch], marker(arch), False)
               for i, arch in enumerate(("rnn", "lstm", "gru"))]

    def thinned(curves):
        return [(label, *downsample(xs, ys), color, mark, dashed) for label, xs, ys, color, mark, dashed in curves]

    print(f"median of {args.repeat}, milliseconds")
    print(f"{'case':<22}{'size':>8}{'chart':>9}{'plotext':>9}{'ratio':>8}")
    for name, curves in (("single, app", thinned(single)), ("single, raw 2000", single),
                         ("compare, app", thinned(compare)), ("compare, raw 3x2000", compare)):
        for width, height in SIZES:
            mine = timed(lambda: ours(curves, width, height), args.repeat)
            if plotext is not None:
                other = timed(lambda: theirs(curves, width, height), max(3, args.repeat // 3))
                print(f"{name:<22}{width:>5}x{height:<3}{mine:>8.2f}{other:>9.1f}{other / mine:>7.0f}x")
            else:
                print(f"{name:<22}{width:>5}x{height:<3}{mine:>8.2f}")


if __name__ == "__main__":
    main()
