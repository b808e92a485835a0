"""The task kinds: one table says what each kind is, and every layer reads it from here.

| kind        | x                     | y                  | loss, scored where             |
|-------------|-----------------------|--------------------|--------------------------------|
| next_token  | [N, T] int64 tokens   | [N, T] int64       | cross-entropy, every step      |
| tag         | [N, T] int64 or float | [N, T] int64       | cross-entropy, steps y != -100 |
| forecast    | [N, T, F] float32     | [N, T] float32     | MSE, every step                |
| classify    | [N, T] int64 or float | [N] int64          | cross-entropy, last step       |
| regress     | [N, T, F] float32     | [N] float32        | MSE, last step                 |
| seq2seq     | [N, T] int64 (source) | [N, T'] int64      | cross-entropy, decoder steps   |
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_INDEX = -100  # targets with this value are not scored (torch's default)


@dataclass(frozen=True)
class Kind:
    name: str
    classifies: bool  # targets are classes: cross-entropy, accuracy (else values: MSE)
    many_to_one: bool  # one target per sequence, read off the last step


KINDS = {k.name: k for k in (
    Kind("next_token", classifies=True, many_to_one=False),
    Kind("tag", classifies=True, many_to_one=False),
    Kind("forecast", classifies=False, many_to_one=False),
    Kind("classify", classifies=True, many_to_one=True),
    Kind("regress", classifies=False, many_to_one=True),
    Kind("seq2seq", classifies=True, many_to_one=False),
)}
TASK_KINDS = tuple(KINDS)
CLASSIFYING = tuple(k.name for k in KINDS.values() if k.classifies)
MANY_TO_ONE = tuple(k.name for k in KINDS.values() if k.many_to_one)
