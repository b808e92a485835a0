"""How a step's input reads on screen: a token, a value, or the step's number.

Labels come from the trace itself (its vocabulary travels with it), so a trace can
never be labelled with another run's tokens.
"""

from __future__ import annotations

import numpy as np

from rnn_tui.core.trace_file import Trace


def token_label(text: str) -> str:
    """What a person can see: spaces and newlines drawn, not left blank, and other
    control characters (a CR from a CRLF file) as their Unicode pictures, never raw."""
    named = {" ": "␣", "\n": "↵", "\t": "⇥"}.get(text)
    if named:
        return named
    return "".join(chr(0x2400 + ord(c)) if ord(c) < 32 else "␡" if c == "\x7f" else c for c in text)


def input_label(row) -> str:
    """A vector input, short: its value, with ◆ for a set flag (the adding problem's marker)."""
    if len(row) == 1:
        return f"{row[0]:+.2f}"
    if len(row) == 2 and row[1] in (0.0, 1.0):
        return f"{row[0]:.2f}" + ("◆" if row[1] else "")
    return "|".join(f"{v:.1f}" for v in row[:3])


def step_labels(trace: Trace) -> list[str]:
    """One label per step: the token, the input value, or the step's index."""
    if trace.tokens is not None and trace.vocab:
        return [token_label(trace.vocab[int(t)]) if 0 <= int(t) < len(trace.vocab) else "?" for t in trace.tokens]
    if trace.inputs is not None:
        return [input_label(row) for row in trace.inputs]
    return [str(t) for t in range(trace.steps)]


PAD = "<pad>"  # the padding token a left-padded sequence starts with (sentiment)


def special(token: str) -> bool:
    """A marker such as <pad> or <go>: not text, and no sign of word-level text."""
    return len(token) > 2 and token.startswith("<") and token.endswith(">")


def word_level(trace: Trace) -> bool:
    """Whether the steps' labels are words (drawn apart) rather than characters (drawn
    compact). A token vocabulary is word-level when it holds any multi-character token
    besides markers such as <go>; vector inputs and step numbers are drawn apart too."""
    if trace.tokens is None or not trace.vocab:
        return True
    return any(len(token) > 1 and not special(token) for token in trace.vocab)


def content_span(trace: Trace) -> tuple[int, int]:
    """[first, end) of the steps that are not padding: a left-padded sentence's words.
    The whole sequence when it has no <pad> token at either end, or only padding."""
    steps = trace.steps
    if trace.tokens is None or not trace.vocab or PAD not in trace.vocab:
        return 0, steps
    real = np.flatnonzero(np.asarray(trace.tokens) != trace.vocab.index(PAD))
    return (int(real[0]), int(real[-1]) + 1) if real.size else (0, steps)
