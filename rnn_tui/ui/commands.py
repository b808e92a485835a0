"""The command palette (ctrl+p): every key of the main screen, plus the live training controls.

The keys' entries come from MainScreen.BINDINGS (their tooltips and keys), so the
palette, the help screen and the README's key table never drift apart.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from rnn_tui.ui.help import key_name

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
CLIPS = (0.0, 0.25, 1.0, 5.0)
OPTIMIZERS = ("adam", "sgd", "rmsprop")
HIDDEN_SIZES = (16, 32, 64, 128, 256)
TEMPERATURES = (0.2, 0.5, 0.8, 1.0, 1.5)
HIDDEN_KEYS = ("step-back", "step-forward", "first", "last", "quit")  # plain stepping is no palette entry


def entries(screen) -> list[tuple[str, object, str]]:
    """(title, callback, help) for everything the palette offers on `screen` (a MainScreen)."""
    out = []
    for binding in screen.BINDINGS:
        if binding.id in HIDDEN_KEYS:
            continue
        title = binding.tooltip[:1].upper() + binding.tooltip[1:]
        out.append((title, partial(screen.run_action, binding.action), f"key {key_name(binding)}"))
    for arch in ("rnn", "lstm", "gru", "esn"):
        out.append((f"Architecture: {arch}", partial(screen.set_model, arch=arch), "retrain from the seed"))
    for size in HIDDEN_SIZES:
        out.append((f"Hidden size: {size}", partial(screen.set_model, hidden=size), "retrain from the seed"))
    for lr in LEARNING_RATES:
        out.append((f"Learning rate: {lr:g}", partial(screen.set_training, lr=lr), "takes effect now"))
    for clip in CLIPS:
        title = "Gradient clipping: off" if clip == 0 else f"Gradient clipping: norm {clip:g}"
        out.append((title, partial(screen.set_training, clip=clip), "takes effect now"))
    for name in OPTIMIZERS:
        out.append((f"Optimizer: {name}", partial(screen.set_training, optimizer=name), "takes effect now"))
    for temp in TEMPERATURES:
        out.append((f"Generation temperature: {temp:g}", partial(screen.set_temperature, temp),
                    "lower is safer, higher is wilder"))
    return out


class RnnCommands(Provider):
    def _entries(self) -> list:
        screen = self.screen
        return entries(screen) if hasattr(screen, "set_model") else []

    async def discover(self) -> Hits:
        for title, callback, text in self._entries():
            yield DiscoveryHit(title, callback, help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=text)
