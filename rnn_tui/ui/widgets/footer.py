"""Textual's Footer, without the keys it leaks.

Each time the bindings change the Footer composes new FooterKeys, each bound to the
Footer's `compact` with `data_bind`. The binding leaves an entry pointing at the key
on the Footer, and Textual prunes those entries only when `compact` itself changes
(Textual issue #6666), so every discarded key, its styles and its caches stayed alive:
about one key per dozen key presses here, without end (benchmarks/bench_soak.py).
"""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    async def recompose(self) -> None:
        await super().recompose()
        # Where Reactive keeps the watchers of an object ("__watchers", set with setattr).
        watchers = getattr(self, "__watchers", {}).get("compact")
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]
