"""The command palette (ctrl+p): every key of the main screen, plus the live training controls.

The keys' entries come from MainScreen.BINDINGS (their tooltips and keys), so the
palette, the help screen and the README's key table never drift apart. Preset values
are offered, the current one marked; a typed value ("lr 0.05", "clip 5", "hidden 100",
"batch 64", "temperature 1.2") is offered as a command of its own.
"""

from __future__ import annotations

import math
import re
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from rnn_tui.ui.help import key_name

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
CLIPS = (0.0, 0.25, 1.0, 5.0)
OPTIMIZERS = ("adam", "sgd", "rmsprop")
HIDDEN_SIZES = (16, 32, 64, 128, 256)
TEMPERATURES = (0.2, 0.5, 0.8, 1.0, 1.5)
HIDDEN_KEYS = ("step-back", "step-forward", "first", "last", "quit")  # plain stepping is no palette entry
# A typed setting: its words, what it sets, how to read and check the value.
TYPED = [
    (("lr", "learning rate"), "lr", float, lambda v: 0 < v <= 100, "a learning rate above 0, at most 100"),
    (("clip", "clipping"), "clip", float, lambda v: 0 <= v <= 1e9, "a clipping norm >= 0 (0: off)"),
    (("batch", "batch size"), "batch_size", int, lambda v: 1 <= v <= 65536, "a batch size from 1 to 65536"),
    (("hidden", "hidden size"), "hidden", int, lambda v: 1 <= v <= 4096, "a hidden size from 1 to 4096"),
    (("temperature", "temp"), "temperature", float, lambda v: 0 <= v <= 10, "a temperature from 0 to 10"),
]


def now(screen, name: str, value) -> str:
    """" (now)" when `value` is the setting in force."""
    view = screen.view
    current = (view.temperature if name == "temperature" else view.model.get(name) if name == "hidden"
               else (view.snap.train if view.snap else {}).get(name))
    same = current is not None and isinstance(current, (int, float)) and math.isclose(current, value)
    return " (now)" if same else ""


def typed(screen, query: str) -> tuple[str, object, str] | None:
    """The command a typed setting asks for, e.g. "lr 0.05", or None."""
    match = re.fullmatch(r"\s*([a-z ]+?)\s*[=:]?\s*([-+0-9.eE]+)\s*", query.lower())
    if not match:
        return None
    words, text = match.groups()
    for names, name, kind, valid, expected in TYPED:
        if words in names:
            try:
                value = kind(text) if kind is int else float(text)
            except ValueError:
                return None
            if not (math.isfinite(value) and valid(value)):
                why = f"{names[-1]} {text}: expected {expected}"
                return (f"{names[-1].capitalize()} {text}: expected {expected}",
                        partial(screen.notify, why, severity="warning"), "not set")
            if name == "temperature":
                return (f"Generation temperature: {value:g}", partial(screen.set_temperature, value), "typed value")
            if name == "hidden":
                return (f"Hidden size: {value}", partial(screen.set_model, hidden=value), "retrain from the seed")
            return (f"{names[-1].capitalize()}: {value:g}", partial(screen.set_training, **{name: value}),
                    "typed value, takes effect now")
    return None


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
        out.append((f"Hidden size: {size}{now(screen, 'hidden', size)}", partial(screen.set_model, hidden=size),
                    "retrain from the seed; or type e.g. hidden 100"))
    for lr in LEARNING_RATES:
        out.append((f"Learning rate: {lr:g}{now(screen, 'lr', lr)}", partial(screen.set_training, lr=lr),
                    "takes effect now; or type e.g. lr 0.05"))
    for clip in CLIPS:
        title = "Gradient clipping: off" if clip == 0 else f"Gradient clipping: norm {clip:g}"
        out.append((title + now(screen, "clip", clip), partial(screen.set_training, clip=clip),
                    "takes effect now; or type e.g. clip 5"))
    train = screen.view.snap.train if screen.view.snap else {}
    for name in OPTIMIZERS:
        mark = " (now)" if train.get("optimizer") == name else ""
        out.append((f"Optimizer: {name}{mark}", partial(screen.set_training, optimizer=name), "takes effect now"))
    for temp in TEMPERATURES:
        out.append((f"Generation temperature: {temp:g}{now(screen, 'temperature', temp)}",
                    partial(screen.set_temperature, temp), "lower is safer, higher is wilder"))
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
        screen = self.screen
        asked = typed(screen, query) if hasattr(screen, "set_model") else None
        if asked is not None:
            title, callback, text = asked
            yield Hit(1.0, title, callback, help=text)
        for title, callback, text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=text)
