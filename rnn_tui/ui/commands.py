"""The command palette (ctrl+p): every action, plus the live training controls."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
CLIPS = (0.0, 0.25, 1.0, 5.0)
OPTIMIZERS = ("adam", "sgd", "rmsprop")
HIDDEN_SIZES = (16, 32, 64, 128, 256)
TEMPERATURES = (0.2, 0.5, 0.8, 1.0, 1.5)


def entries(app) -> list[tuple[str, object, str]]:
    """(title, callback, help) for everything the palette offers."""
    out = []
    for action, title, text in [
        ("play", "Play / pause stepping", "space"), ("toggle_training", "Pause / resume training", "t"),
        ("reset", "Reset the weights", "r"), ("cycle_arch", "Cycle the architecture", "a"),
        ("pick_scenario", "Pick a scenario", "s"), ("compare", "Compare RNN, LSTM and GRU", "c"),
        ("generate", "Generate text", "g"), ("export", "Export trace (.npz) and screenshot (.svg)", "e"),
        ("help", "Help: panels, equations, what to try", "?"), ("layer", "Next layer / direction", "L"),
    ]:
        out.append((title, partial(app.run_action, action), f"key {text}"))
    for arch in ("rnn", "lstm", "gru", "esn"):
        out.append((f"Architecture: {arch}", partial(app.set_model, arch=arch), "retrain from the seed"))
    for size in HIDDEN_SIZES:
        out.append((f"Hidden size: {size}", partial(app.set_model, hidden=size), "retrain from the seed"))
    for lr in LEARNING_RATES:
        out.append((f"Learning rate: {lr:g}", partial(app.set_training, lr=lr), "takes effect now"))
    for clip in CLIPS:
        title = "Gradient clipping: off" if clip == 0 else f"Gradient clipping: norm {clip:g}"
        out.append((title, partial(app.set_training, clip=clip), "takes effect now"))
    for name in OPTIMIZERS:
        out.append((f"Optimizer: {name}", partial(app.set_training, optimizer=name), "takes effect now"))
    for temp in TEMPERATURES:
        out.append((f"Generation temperature: {temp:g}", partial(app.set_temperature, temp),
                    "lower is safer, higher is wilder"))
    return out


class RnnCommands(Provider):
    async def discover(self) -> Hits:
        for title, callback, text in entries(self.app):
            yield DiscoveryHit(title, callback, help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, text in entries(self.app):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=text)
