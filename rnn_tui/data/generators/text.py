"""`text`: character-level next-character prediction on a UTF-8 file."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import (
    BLOCK,
    FIXED_BYTES,
    blocks,
    file_size,
    int_in,
    read_fields,
    read_text_file,
    window_pairs,
)
from rnn_tui.errors import UserError

TASK = "next_token"
DEFAULTS = {"file": "", "seq_len": 64, "max_vocab": 512}
VAL_FRACTION = 0.1
# A long book gives millions of windows; evenly spaced ones cover it just as well.
MAX_TRAIN_WINDOWS = 20_000
MAX_VAL_WINDOWS = 1_000
# What the characters past max_vocab read as; a private-use character instead when the
# text itself uses U+FFFD often enough to keep it.
UNKNOWN = "\ufffd"
CODE_POINTS = 0x110000


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    if not values["file"]:
        raise UserError("missing field 'file'; expected the path of a UTF-8 text file")
    int_in(values, "seq_len", 2, 1000)
    int_in(values, "max_vocab", 2, 65536)
    return values


def read_corpus(path: Path, seq_len: int) -> str:
    """The file's text, checked to hold at least one training and one validation window."""
    text = read_text_file(path)
    needed = 2 * (seq_len + 1)  # one window to train on, one to validate
    if len(text) < needed:
        raise UserError(
            f"{path}: too short: {len(text)} characters; needs at least {needed} for "
            f"seq_len {seq_len} (one window to train on and one to validate)"
        )
    return text


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _counts(points: np.ndarray) -> np.ndarray:
    """How often each code point occurs: counted a block at a time, as bincount copies to int64."""
    counts = np.zeros(int(points.max()) + 1, dtype=np.int64)
    for part in blocks(len(points)):
        counts += np.bincount(points[part], minlength=len(counts))
    return counts


def _kept(counts: np.ndarray, max_vocab: int) -> np.ndarray:
    """The code points that get their own id, sorted: every one in the text, or past
    max_vocab the max_vocab - 1 most frequent (ties to the lower code point)."""
    present = np.flatnonzero(counts)
    if len(present) <= max_vocab:
        return present
    by_count = present[np.argsort(-counts[present], kind="stable")]
    return np.sort(by_count[: max_vocab - 1])


def encode(text: str, max_vocab: int) -> tuple[list[str], torch.Tensor, str | None]:
    """(vocabulary, [len(text)] token ids, a note when the vocabulary was capped).

    Every distinct character in code-point order, so sorted(set(text)); past max_vocab the
    max_vocab - 1 most frequent, in the same order, then one unknown token that all the
    others read as.
    """
    points = _code_points(text)
    counts = _counts(points)
    kept = _kept(counts, max_vocab)
    lookup = np.full(len(counts), len(kept), dtype=np.int64)  # a dropped character: the unknown id
    lookup[kept] = np.arange(len(kept))
    ids = np.empty(len(points), dtype=np.int64)
    for part in blocks(len(points)):  # a block at a time: indexing copies the indices to int64
        ids[part] = lookup[points[part]]
    vocab = [chr(p) for p in kept]
    distinct = int(np.count_nonzero(counts))
    if len(kept) == distinct:
        return vocab, torch.from_numpy(ids), None
    known = set(vocab)
    unknown = next(c for c in map(chr, itertools.chain([ord(UNKNOWN)], range(0xF0000, CODE_POINTS)))
                   if c not in known)
    share = 100 * (1 - counts[kept].sum() / len(points))
    share = f"{share:.1f}%" if share >= 0.05 else "under 0.1%"
    note = (
        f"vocabulary capped at max_vocab {max_vocab:,}: the {len(kept):,} most frequent of {distinct:,} "
        f"distinct characters and one unknown token; the other {share} of the text reads as "
        f"{unknown!r} (raise max_vocab to keep more)"
    )
    return vocab + [unknown], torch.from_numpy(ids), note


def unigram_loss(text: str, max_vocab: int = DEFAULTS["max_vocab"]) -> float:
    """Cross-entropy (nats/character) of always predicting each token's overall frequency,
    the characters past max_vocab counted as the one unknown token they read as."""
    counts = _counts(_code_points(text))
    kept = counts[_kept(counts, max_vocab)]
    p = np.append(kept, len(text) - kept.sum()) / len(text)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def build(params: dict, seed: int) -> TaskData:
    # The windows are fixed by the file; `seed` has nothing to draw.
    values = check(params)
    path, seq_len = Path(values["file"]), values["seq_len"]
    text = read_corpus(path, seq_len)
    vocab, ids, note = encode(text, values["max_vocab"])

    window = seq_len + 1  # x = window[:-1], y = window[1:]
    # The last 10% validates, in windows that overlap by one character so each character
    # is predicted once; rounded up to whole windows so they end on the file's last one.
    val_chars = math.ceil((max(len(text) * VAL_FRACTION, window) - 1) / seq_len) * seq_len + 1
    train = window_pairs(ids[:-val_chars], window, MAX_TRAIN_WINDOWS)
    val = window_pairs(ids[-val_chars:], window, MAX_VAL_WINDOWS, min_stride=seq_len)
    return TaskData(
        kind=TASK,
        train=Split(*train),
        val=Split(*val),
        input_size=len(vocab),
        output_size=len(vocab),
        vocab=vocab,
        joiner="",
        info={"source": path.name, "characters": len(text), **({"vocab_note": note} if note else {})},
    )


def data_bytes(values: dict) -> int:
    """At most: the text (4 bytes a character) and, the largest of, the bytes read; its code
    points, counts and ids (4 + 8 bytes a character, two tables over every code point); the
    ids (8 bytes a token; the windows are views into them)."""
    size = file_size(values["file"])
    if not size:
        return 0
    chars = size  # at least one byte a character
    counting = 12 * chars + 2 * 8 * CODE_POINTS + 2 * 8 * min(chars, BLOCK)
    return FIXED_BYTES + 4 * chars + max(size, counting, 8 * chars)
