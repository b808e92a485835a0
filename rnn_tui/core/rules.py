"""Rules: one number per step of a sequence, to find the hidden unit that follows it.

A rule is a built-in name or an expression in the small language below. It is
parsed here, by a recursive-descent parser, and never handed to Python's eval.

Grammar:
    rule   := term (("+" | "-") term)*
    term   := unary ("*" unary)*
    unary  := "-" unary | atom
    atom   := NUMBER | "position" | "(" rule ")" | NAME "(" arguments ")"

Functions, at step t of a sequence (t counts from 0):
    position             t
    is('a', 'e', ...)    1 where token t is one of these, else 0
    count('(', ...)      how many of these tokens up to and including t
    seen('not', ...)     1 from the first of these tokens on, else 0
    after(' ', ...)      1 where the token before t is one of these
    since('\\n', ...)     steps since the last of these (0 on it; t + 1 before the first)
    inside('"', ...)     1 after an odd number of these (between quotes), else 0
    feature(i)           input feature i at step t (number inputs, i from 0)
    sum(rule)            the running sum of a rule up to and including t
Tokens are 'single' or "double" quoted, with the escapes \\n \\t \\\\ \\' \\".
Token functions read token inputs (characters or words), feature() number inputs.
Example: count('(') - count(')') is the bracket depth.

Built-in rules:
    depth          count('(') - count(')')             brackets: how deeply nested
    position       position                            any: the step's index
    after_space    after(' ')                          text: the character before is a space
    in_quotes      inside('"')                         text: between double quotes
    line_position  since('\\n')                         text: characters since the line began
    marked         sum(feature(0) * feature(1))        adding: the marked values read so far
    negation       seen('not', 'never', 'hardly')      sentiment: a negator was read
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rnn_tui.errors import UserError

BUILTIN = {
    "depth": "count('(') - count(')')",
    "position": "position",
    "after_space": "after(' ')",
    "in_quotes": "inside('\"')",
    "line_position": "since('\\n')",
    "marked": "sum(feature(0) * feature(1))",
    "negation": "seen('not', 'never', 'hardly')",  # sentiment's negators
}

Values = Callable[[np.ndarray], np.ndarray]  # inputs [N, T] ids or [N, T, F] numbers -> [N, T]

_LEXEME = re.compile(r"""\s*(?:(?P<number>\d+\.?\d*|\.\d+)|(?P<name>[A-Za-z_]\w*)
                         |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<op>[-+*(),])|(?P<bad>\S))""",
                     re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def unescape(text: str) -> str:
    """\\n, \\t, \\\\, \\' and \\" as the characters they name; any other backslash stays."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def vocab_hint(vocab: list[str], shown: int = 12) -> str:
    """"one of its N tokens ('(', ')', ...)": what a token must be, in an error message."""
    some = ", ".join(repr(v) for v in vocab[:shown])
    return f"one of its {len(vocab)} tokens ({some}{', ...' if len(vocab) > shown else ''})"


def _since(member: np.ndarray) -> np.ndarray:
    t = np.arange(member.shape[1])
    last = np.maximum.accumulate(np.where(member > 0, t, -1), axis=1)
    return (t - last).astype(np.float64)


# What each token function makes of the [N, T] 0/1 mask "token t is one of these".
TOKEN_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "is": lambda m: m,
    "count": lambda m: np.cumsum(m, axis=1),
    "seen": lambda m: (np.cumsum(m, axis=1) > 0).astype(np.float64),
    "after": lambda m: np.pad(m[:, :-1], ((0, 0), (1, 0))),
    "since": _since,
    "inside": lambda m: np.cumsum(m, axis=1) % 2,
}
_OPERATORS = {"+": np.add, "-": np.subtract, "*": np.multiply}
FUNCTIONS = ("position", *TOKEN_FUNCTIONS, "feature", "sum")
_EXPECTED = "a built-in rule (" + ", ".join(BUILTIN) + ") or an expression such as count('(') - count(')')"


def _combine(operator, left: Values, right: Values) -> Values:
    return lambda x: operator(left(x), right(x))


@dataclass(frozen=True)
class Rule:
    text: str  # the expression (a built-in's, for a built-in name)
    values: Values  # inputs -> [N, T] float64


def expression(rule: str) -> str:
    """A built-in rule's expression; any other rule as it is."""
    return BUILTIN.get(rule.strip(), rule)


def compile_rule(rule: str, vocab: list[str] | None = None, features: int | None = None) -> Rule:
    """Parse `rule` for one model's inputs: tokens of `vocab`, or `features` numbers per step.

    Every problem is a UserError of one line that says what was expected.
    """
    text = expression(rule)
    return Rule(text, _Parser(rule, text, vocab, features).parse())


class _Parser:
    def __init__(self, rule: str, text: str, vocab: list[str] | None, features: int | None):
        self.rule, self.vocab, self.features = rule, vocab, features
        self.lexemes = [(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup))
                        for m in _LEXEME.finditer(text) if m.lastgroup]
        self.at = 0

    def fail(self, problem: str, expected: str) -> UserError:
        return UserError(f"rule {self.rule!r}: {problem}; expected {expected}")

    def peek(self) -> tuple[str, str, int]:
        return self.lexemes[self.at] if self.at < len(self.lexemes) else ("end", "", -1)

    def take(self, kind: str, text: str | None = None, expected: str = "") -> str:
        got_kind, got, where = self.peek()
        if got_kind != kind or (text is not None and got != text):
            shown = "the end" if got_kind == "end" else f"{got!r} at character {where + 1}"
            if got_kind == "bad" and got in "'\"":
                shown = f"an unclosed quote at character {where + 1}"
            raise self.fail(f"found {shown}", expected or repr(text))
        self.at += 1
        return got

    def parse(self) -> Values:
        if not self.lexemes:
            raise self.fail("empty", _EXPECTED)
        values = self.sum_of_terms()
        if self.peek()[0] != "end":
            self.take("end", expected="an operator (+ - *) or the end of the rule")
        return values

    def sum_of_terms(self) -> Values:
        left = self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            left = _combine(_OPERATORS[self.take("op")], left, self.product())
        return left

    def product(self) -> Values:
        left = self.unary()
        while self.peek()[:2] == ("op", "*"):
            left = _combine(_OPERATORS[self.take("op")], left, self.unary())
        return left

    def unary(self) -> Values:
        if self.peek()[:2] == ("op", "-"):
            self.take("op")
            inner = self.unary()
            return lambda x: -inner(x)
        return self.atom()

    def atom(self) -> Values:
        kind, text, _ = self.peek()
        if kind == "number":
            number = float(self.take("number"))
            return lambda x: np.full(x.shape[:2], number)
        if (kind, text) == ("op", "("):
            self.take("op")
            inner = self.sum_of_terms()
            self.take("op", ")")
            return inner
        name = self.take("name", expected="a number, a function or '('")
        if name == "position":
            return lambda x: np.broadcast_to(np.arange(x.shape[1], dtype=np.float64), x.shape[:2])
        if name not in FUNCTIONS:
            raise self.fail(f"unknown function {name!r}", "one of " + ", ".join(FUNCTIONS))
        self.take("op", "(", expected=f"'(' after {name}")
        values = self.call(name)
        self.take("op", ")", expected=f"')' after the arguments of {name}")
        return values

    def call(self, name: str) -> Values:
        if name == "sum":
            inner = self.sum_of_terms()
            return lambda x: np.cumsum(inner(x), axis=1)
        if name == "feature":
            return self.feature()
        if self.vocab is None:
            raise self.fail(f"{name}() reads tokens, and this model reads numbers", "feature(i), position or sum(...)")
        ids, how = self.tokens(), TOKEN_FUNCTIONS[name]
        return lambda x: how(np.isin(x, ids).astype(np.float64))

    def tokens(self) -> np.ndarray:
        """One or more quoted tokens, separated by commas, as token ids."""
        ids = [self.token()]
        while self.peek()[:2] == ("op", ","):
            self.take("op")
            ids.append(self.token())
        return np.array(ids)

    def token(self) -> int:
        quoted = self.take("string", expected="a quoted token such as '(' or 'not'")
        token = unescape(quoted[1:-1])
        if token not in self.vocab:
            raise self.fail(f"{token!r} is not a token of this model", vocab_hint(self.vocab))
        return self.vocab.index(token)

    def feature(self) -> Values:
        if self.features is None:
            raise self.fail("feature() reads numbers, and this model reads tokens",
                            "is(), count(), seen(), after(), since(), inside() or position")
        number = self.take("number", expected="a feature index such as 0")
        index = int(float(number))
        if index != float(number) or not 0 <= index < self.features:
            raise self.fail(f"feature({number}) does not exist",
                            f"a whole index from 0 to {self.features - 1} (this model reads {self.features} per step)")
        return lambda x: np.asarray(x[..., index], dtype=np.float64)
