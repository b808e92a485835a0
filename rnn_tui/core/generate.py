"""One-to-many generation: feed the model its own samples, one token at a time."""

from __future__ import annotations

import torch

from rnn_tui.core.model import SequenceModel
from rnn_tui.errors import UserError


@torch.no_grad()
def sample_tokens(
    model: SequenceModel, prompt: torch.Tensor, length: int, temperature: float, seed: int = 0
) -> list[int]:
    """Continue `prompt` ([P] token ids) by `length` tokens.

    Each step draws from softmax(logits / temperature): below 1 the likely tokens
    win more often, above 1 the distribution flattens; 0 means always the most likely.
    """
    if model.task != "next_token":
        raise UserError(f"sampling needs a next-token model; this one does {model.task}")
    if temperature < 0 or temperature != temperature:
        raise UserError(f"temperature must be 0 or more, got {temperature}")
    if len(prompt) == 0:
        raise UserError("sampling needs a prompt of at least one token")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    out, state = model.core(model.encoder(prompt.to(device)[None]))
    logits = model.head(out[0, -1])
    tokens = []
    for _ in range(length):
        if temperature == 0:
            token = int(logits.argmax())
        else:
            probs = torch.softmax(logits.double().cpu() / temperature, -1)
            token = int(torch.multinomial(probs, 1, generator=gen))
        tokens.append(token)
        out, state = model.core(model.encoder(torch.tensor([[token]], device=device)), state)
        logits = model.head(out[0, -1])
    return tokens


def sample_text(model: SequenceModel, vocab: list[str], prompt: str, length: int,
                temperature: float, joiner: str = "", seed: int = 0) -> str:
    index = {s: i for i, s in enumerate(vocab)}
    pieces = prompt.split() if joiner == " " else list(prompt)
    known = [index[p] for p in pieces if p in index] or [0]
    tokens = sample_tokens(model, torch.tensor(known), length, temperature, seed)
    return joiner.join(vocab[t] for t in tokens)
