"""Losses, metrics and naive baselines for each task kind (see data.base)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnn_tui.core.kinds import CLASSIFYING, IGNORE_INDEX


def batch_loss(kind: str, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss: mean over scored steps (or sequences, for many-to-one)."""
    if kind in CLASSIFYING:
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX)
    return F.mse_loss(pred, y)


def loss_sum(kind: str, pred: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
    """(the summed loss, how many terms it sums) over a chunk: chunks add up to batch_loss."""
    if kind in CLASSIFYING:
        flat = y.reshape(-1)
        total = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), flat, ignore_index=IGNORE_INDEX, reduction="sum")
        return float(total), int((flat != IGNORE_INDEX).sum())
    return float(F.mse_loss(pred, y, reduction="sum")), y.numel()


def step_losses(kind: str, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unreduced loss with the shape of y; NaN where a step is not scored."""
    if kind in CLASSIFYING:
        flat = F.cross_entropy(
            pred.reshape(-1, pred.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
        )
        return flat.reshape(y.shape).masked_fill(y == IGNORE_INDEX, math.nan)
    return (pred - y) ** 2


def metrics(kind: str, guess: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Accuracy (and precision, recall, F1 for classification) over scored targets, from
    the predicted classes (`pred.argmax(-1)`)."""
    if kind not in CLASSIFYING:
        return {}
    guess = guess.reshape(-1)
    truth = y.reshape(-1)
    scored = truth != IGNORE_INDEX
    guess, truth = guess[scored], truth[scored]
    out = {"accuracy": float((guess == truth).float().mean()) if len(truth) else math.nan}
    if kind == "classify":
        out.update(precision_recall_f1(guess, truth, num_classes))
    return out


def precision_recall_f1(guess: torch.Tensor, truth: torch.Tensor, num_classes: int) -> dict[str, float]:
    """Binary tasks score class 1 ("positive"); more classes are macro-averaged."""
    classes = [1] if num_classes == 2 else range(num_classes)
    p, r, f = [], [], []
    for c in classes:
        tp = float(((guess == c) & (truth == c)).sum())
        fp = float(((guess == c) & (truth != c)).sum())
        fn = float(((guess != c) & (truth == c)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        p.append(precision)
        r.append(recall)
        f.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    n = len(p)
    return {"precision": sum(p) / n, "recall": sum(r) / n, "f1": sum(f) / n}
