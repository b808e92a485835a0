"""What a scenario's data looks like to the model, the trainer and the trace.

A generator turns a scenario's `[data]` table into a `TaskData`: tensors for a
train and a validation split plus everything needed to read them (vocabulary,
class names). The task kind decides the target layout and the loss: see the
table in core/kinds.py.

For seq2seq the decoder reads the target shifted right behind a start token
(teacher forcing): `dec_in[:, 0] = start_token`, `dec_in[:, 1:] = y[:, :-1]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from rnn_tui.core.kinds import IGNORE_INDEX
from rnn_tui.errors import UserError


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor
    dec_in: torch.Tensor | None = None  # seq2seq only

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batch(self, index: torch.Tensor) -> "Split":
        dec = None if self.dec_in is None else self.dec_in[index]
        return Split(self.x[index], self.y[index], dec)


@dataclass
class TaskData:
    kind: str
    train: Split
    val: Split
    input_size: int  # vocabulary size for tokens, feature width for vectors
    output_size: int  # classes / vocabulary size, or 1 for regression
    vocab: list[str] | None = None  # token inputs: the string of each token id
    class_names: list[str] | None = None  # tag / classify / seq2seq outputs
    start_token: int | None = None  # seq2seq: the decoder's first input
    # Words between tokens when shown to a person: "" for characters, " " for words.
    joiner: str = ""
    # Extra facts a generator wants to show (e.g. the corpus name, the CSV column).
    info: dict = field(default_factory=dict)

    @property
    def tokens_in(self) -> bool:
        return not self.train.x.is_floating_point()

    @property
    def seq_len(self) -> int:
        return int(self.train.x.shape[1])

    def pieces(self, text: str) -> list[str]:
        """The tokens of `text`: its words when tokens are words, else its characters."""
        return text.split() if self.joiner == " " else list(text)

    def unknown(self, text: str) -> list[str]:
        """The tokens of `text` that are not in the vocabulary, sorted, each once."""
        known = set(self.vocab or ())
        return sorted({p for p in self.pieces(text) if p not in known})

    def encode_text(self, text: str, option: str = "--input-text") -> torch.Tensor:
        """Token ids of `text` (characters, or words when joiner is a space); a UserError
        naming `option` and the unknown tokens when some are not in the vocabulary."""
        if self.vocab is None:
            raise UserError(f"{option}: this scenario reads numbers, not text")
        index = {s: i for i, s in enumerate(self.vocab)}
        pieces = self.pieces(text)
        unknown = self.unknown(text)
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:8]) + (", ..." if len(unknown) > 8 else "")
            raise UserError(
                f"{option}: {shown} not in this scenario's vocabulary of {len(self.vocab)} tokens; "
                "expected text made only of tokens the model was trained on"
            )
        if not pieces:
            raise UserError(f"{option}: empty; expected at least one token")
        return torch.tensor([index[p] for p in pieces], dtype=torch.long)


def baseline(data: TaskData) -> dict[str, float | str]:
    """The validation loss of the naive predictor, named, on the same split.

    last value for forecasting, the mean for regression, class frequencies (the
    unigram model for text; the majority class for accuracy) for the rest.
    """
    kind, train, val = data.kind, data.train, data.val
    if kind == "forecast":
        last = val.x[..., 0]  # tomorrow is like today
        return {"name": "last value", "val_loss": float(F.mse_loss(last, val.y))}
    if kind == "regress":
        mean = train.y.float().mean()
        return {"name": "training mean", "val_loss": float(F.mse_loss(mean.expand_as(val.y), val.y))}
    counts = torch.bincount(train.y[train.y != IGNORE_INDEX].reshape(-1), minlength=data.output_size)
    prior = (counts.double() + 1.0) / (counts.sum() + data.output_size)  # add-one: no log(0)
    scored = val.y[val.y != IGNORE_INDEX]
    loss = float(-prior.log()[scored].mean())
    name = "unigram frequencies" if kind == "next_token" else "class frequencies"
    accuracy = float((scored == int(counts.argmax())).double().mean())
    return {"name": name, "val_loss": loss, "accuracy": accuracy}
