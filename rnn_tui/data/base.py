"""What a scenario's data looks like to the model, the trainer and the trace.

A generator turns a scenario's `[data]` table into a `TaskData`: tensors for a
train and a validation split plus everything needed to read them (vocabulary,
class names). The task kind decides the target layout and the loss:

| kind        | x                     | y                  | loss, scored where             |
|-------------|-----------------------|--------------------|--------------------------------|
| next_token  | [N, T] int64 tokens   | [N, T] int64       | cross-entropy, every step      |
| tag         | [N, T] int64 or float | [N, T] int64       | cross-entropy, steps y != -100 |
| forecast    | [N, T, F] float32     | [N, T] float32     | MSE, every step                |
| classify    | [N, T] int64 or float | [N] int64          | cross-entropy, last step       |
| regress     | [N, T, F] float32     | [N] float32        | MSE, last step                 |
| seq2seq     | [N, T] int64 (source) | [N, T'] int64      | cross-entropy, decoder steps   |

For seq2seq the decoder reads the target shifted right behind a start token
(teacher forcing): `dec_in[:, 0] = start_token`, `dec_in[:, 1:] = y[:, :-1]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

TASK_KINDS = ("next_token", "tag", "forecast", "classify", "regress", "seq2seq")
IGNORE_INDEX = -100  # targets with this value are not scored (torch's default)


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

    def encode_text(self, text: str) -> torch.Tensor:
        """Token ids of `text` (characters, or words when joiner is a space)."""
        from rnn_tui.errors import UserError

        if self.vocab is None:
            raise UserError("--input-text: this scenario reads numbers, not text")
        index = {s: i for i, s in enumerate(self.vocab)}
        pieces = text.split() if self.joiner == " " else list(text)
        unknown = sorted({p for p in pieces if p not in index})
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:8])
            raise UserError(
                f"--input-text: {shown} not in this scenario's vocabulary of {len(self.vocab)} tokens"
            )
        if not pieces:
            raise UserError("--input-text: empty; expected at least one token")
        return torch.tensor([index[p] for p in pieces], dtype=torch.long)
