"""`sentiment`: is a short movie review positive or negative?

The sentences are generated from a small grammar so the label is never in doubt:
a sentiment word ("great", "boring", "loved") sets the polarity and a negator before
it ("not", "never", "hardly", "did not") flips it, so "not bad" is positive and
"i did not like the plot at all" negative. With "but", the clause after it decides.
Each label is drawn first and negation is a coin flip, so no single word gives the
answer away: the model has to remember whether a negator came before the word.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import FIXED_BYTES, float_in, int_in, read_fields, split_rngs
from rnn_tui.errors import UserError

TASK = "classify"
CLASSES = ["negative", "positive"]
PAD = "<pad>"

POSITIVE = ["good", "great", "wonderful", "brilliant", "fun", "funny", "moving", "clever",
            "beautiful", "charming", "exciting", "enjoyable"]
NEGATIVE = ["bad", "awful", "boring", "dull", "terrible", "weak", "slow", "silly",
            "predictable", "painful", "forgettable", "messy"]
# (past tense, plain form after "did not")
LIKE_VERBS = [("liked", "like"), ("loved", "love"), ("enjoyed", "enjoy"), ("adored", "adore")]
DISLIKE_VERBS = [("hated", "hate"), ("disliked", "dislike"), ("loathed", "loathe")]
NEGATORS = ["not", "never", "hardly"]
INTENSIFIERS = ["really", "truly", "very", "quite", "so"]
SUBJECTS = ["the movie", "the film", "this film", "the plot", "the acting", "the story",
            "the ending", "the music", "the cast", "the script"]
NOUNS = ["movie", "film", "story", "show", "performance"]
# Linking verbs, with the plain form that follows "did not" ("did not seem good").
COPULAS = {"was": "was", "is": "is", "felt": "feel", "seemed": "seem"}
OTHER_WORDS = ["i", "did", "a", "an", "but", "at", "all"]

# The longest sentence the grammar makes: a "but" joining two copula clauses of
# 7 words ("the movie did not seem really good").
LONGEST = 15
DEFAULTS = {"train_size": 4000, "val_size": 1000, "seq_len": 16, "but": 0.2}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    int_in(values, "train_size", 2, 100_000)
    int_in(values, "val_size", 2, 100_000)
    float_in(values, "but", 0.0, 1.0)
    if not LONGEST <= values["seq_len"] <= 200:
        raise UserError(
            f"seq_len must be an integer from {LONGEST} (the longest sentence) to 200, "
            f"got {values['seq_len']!r}"
        )
    return values


def vocabulary() -> list[str]:
    words = set(POSITIVE + NEGATIVE + NEGATORS + INTENSIFIERS + NOUNS + OTHER_WORDS)
    words.update(list(COPULAS) + list(COPULAS.values()))
    for forms in LIKE_VERBS + DISLIKE_VERBS:
        words.update(forms)
    for subject in SUBJECTS:
        words.update(subject.split())
    return [PAD] + sorted(words)


class _Writer:
    """Draws words from one random stream; each method returns a list of words."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def pick(self, options):
        return options[self.rng.integers(len(options))]

    def maybe(self, words: list[str], p: float = 0.5) -> list[str]:
        return words if self.rng.random() < p else []

    def adjective(self, polarity: int) -> str:
        return self.pick(POSITIVE if polarity else NEGATIVE)

    def copula(self, polarity: int, negated: bool) -> list[str]:
        """the plot was not really boring / the film never felt exciting"""
        verb = self.pick(list(COPULAS))
        words = self.pick(SUBJECTS).split()
        negator = self.pick(NEGATORS) if negated else None
        if negator is None:
            words += [verb]
        elif verb in ("was", "is"):
            words += [verb, negator]
        elif negator == "not":
            words += ["did", "not", COPULAS[verb]]
        else:
            words += [negator, verb]
        if negator != "hardly":  # "hardly really good" is not English
            words += self.maybe([self.pick(INTENSIFIERS)])
        return words + [self.adjective(polarity)]

    def feeling(self, polarity: int, negated: bool) -> list[str]:
        """i did not like the plot at all / i never enjoyed the film / i really loved it"""
        past, plain = self.pick(LIKE_VERBS if polarity else DISLIKE_VERBS)
        obj = self.pick(SUBJECTS).split()
        if not negated:
            return ["i"] + self.maybe([self.pick(["really", "truly"])]) + [past] + obj
        negator = self.pick(["did not", "never", "hardly"])
        verb = plain if negator == "did not" else past
        return ["i"] + negator.split() + [verb] + obj + self.maybe(["at", "all"])

    def phrase(self, polarity: int, negated: bool) -> list[str]:
        """a truly great film / hardly an exciting story"""
        words = self.maybe([self.pick(["really", "truly", "very"])]) + [self.adjective(polarity)]
        article = "an" if words[0][0] in "aeiou" else "a"
        head = [self.pick(NEGATORS)] if negated else []
        return head + [article] + words + [self.pick(NOUNS)]

    def fragment(self, polarity: int, negated: bool) -> list[str]:
        """never boring / truly awful"""
        head = [self.pick(NEGATORS)] if negated else self.maybe([self.pick(INTENSIFIERS)])
        return head + [self.adjective(polarity)]

    def sentence(self, label: int, but: float) -> list[str]:
        negated = bool(self.rng.random() < 0.5)
        polarity = label ^ negated  # a negator flips the word's polarity into the label
        if self.rng.random() < but:
            first = self.copula(int(self.rng.integers(2)), bool(self.rng.random() < 0.5))
            return first + ["but"] + self.copula(polarity, negated)
        form = self.pick([self.copula, self.feeling, self.phrase, self.fragment])
        return form(polarity, negated)


def sentences(rng: np.random.Generator, count: int, values: dict, vocab: list[str]) -> Split:
    """`count` sentences, half of each label (one more negative when `count` is odd), shuffled,
    encoded as they are written."""
    labels = rng.permutation(np.arange(count) % 2)
    writer = _Writer(rng)
    index = {w: i for i, w in enumerate(vocab)}
    seq_len = values["seq_len"]
    # Left padding puts every sentence's last word on the last step, which the head reads.
    x = np.zeros((count, seq_len), dtype=np.int64)
    for row, label in enumerate(labels.tolist()):
        words = writer.sentence(label, values["but"])
        x[row, seq_len - len(words):] = [index[w] for w in words]
    return Split(torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64, copy=False)))


def data_bytes(values: dict) -> int:
    """x (int64), the labels and the shuffle's copies of them."""
    count = values["train_size"] + values["val_size"]
    return FIXED_BYTES + count * 8 * (values["seq_len"] + 4)


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    vocab = vocabulary()
    splits = [sentences(rng, count, values, vocab)
              for rng, count in zip(split_rngs(seed), (values["train_size"], values["val_size"]))]
    return TaskData(
        kind=TASK,
        train=splits[0],
        val=splits[1],
        input_size=len(vocab),
        output_size=len(CLASSES),
        vocab=vocab,
        class_names=list(CLASSES),
        joiner=" ",
        info={"source": "generated movie-review sentences"},
    )
