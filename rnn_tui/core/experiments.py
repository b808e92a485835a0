"""Experiments on a model's real weights: what if, its recurrent spectrum, the unit that does X.

Each takes a `SequenceModel` or a bare torch.nn.RNN/LSTM/GRU core (whose output
is then its last layer's h) and returns plain, JSON-able values:

    horizon(model, x, step, token= | delta= | value=)
        {"step", "perturbation", "delta_h", "delta_output", "horizon"}: replace the
        input at `step`, run both sequences, and compare the last layer's h (both
        directions, concatenated) and the model's output at every step s >= step.
    spectrum(model)
        [{"layer", "direction", "spectral_radius", "eigenvalues", "singular_values"}, ...]
        of each weight_hh; an LSTM's or GRU's also per gate block.
    rank_units(model, samples, rule)
        [{"layer", "direction", "unit", "corr"}, ...], best first: each hidden unit's
        Pearson correlation with a rule (core.rules) over every step of the samples.

Layers and directions count from 0 (direction 1 reads the sequence backwards), as
in a trace's index l*D + d.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from rnn_tui.core.kinds import CLASSIFYING, MANY_TO_ONE
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.rules import compile_rule
from rnn_tui.core.trace import CELLS, core_arch, fused_layer
from rnn_tui.errors import UserError

HORIZON_FRACTION = 0.01  # the memory horizon: steps until ||h' - h|| < 1% of its first value


# ---------------------------------------------------------------- running a model


def _core(model) -> nn.RNNBase:
    return model.core if isinstance(model, SequenceModel) else model


def _encoded(model, x: torch.Tensor) -> torch.Tensor:
    return model.encoder(x) if isinstance(model, SequenceModel) else x


def _run(core: nn.RNNBase, x: torch.Tensor, state=None):
    """core on a batch x [B, T, in] -> ([B, T, D*H], final state), whatever its batch_first."""
    if core.batch_first:
        return core(x, state)
    out, final = core(x.transpose(0, 1), state)
    return out.transpose(0, 1), final


def _readout(model: SequenceModel, out: torch.Tensor) -> torch.Tensor:
    """What the model says after each step, as a trace shows it: probabilities for
    classes, else values; a bidirectional many-to-one model speaks only at the end (NaN before)."""
    said = model.head(out)
    if model.task in MANY_TO_ONE and model.directions == 2:
        said = torch.full_like(said, float("nan"))
        said[:, -1] = model.head(model.features(out))
    return torch.softmax(said, -1) if model.task in CLASSIFYING else said


def last_layer(model, x: torch.Tensor, dec_in: torch.Tensor | None = None):
    """The last layer's h [B, S, D*H] and the outputs [B, S, O] of a batch of sequences.

    For seq2seq the S steps are the encoder's then the decoder's (the encoder's have
    NaN outputs), as in a trace. A bare core's outputs are its h.
    """
    out, state = _run(_core(model), _encoded(model, x))
    if not isinstance(model, SequenceModel):
        return out, out
    if model.task != "seq2seq":
        return out, _readout(model, out)
    decoded, _ = _run(model.decoder, model.encoder(dec_in), state)
    said = _readout(model, decoded)
    silent = torch.full((*out.shape[:2], said.shape[-1]), float("nan"), dtype=said.dtype)
    return torch.cat([out, decoded], 1), torch.cat([silent, said], 1)


def hidden_states(model, samples: torch.Tensor) -> np.ndarray:
    """h of every layer and direction, [N, T, L*D, H], for samples [N, T] or [N, T, F]."""
    core, layers = _core(model), []
    with torch.no_grad():
        layer_in = _encoded(model, samples)
        for layer in range(core.num_layers):
            layer_in, _ = _run(fused_layer(core, layer), layer_in)
            layers.append(layer_in)
    states = torch.stack(layers, 2)  # [N, T, L, D*H]
    return states.reshape(*states.shape[:2], -1, core.hidden_size).numpy()


# ---------------------------------------------------------------- what if


def memory_horizon(delta_h, fraction: float = HORIZON_FRACTION) -> int | None:
    """Steps k until delta_h[k] first falls below `fraction` of delta_h[0]; None when
    it never does (beyond the sequence); 0 when the change never reached h at all."""
    delta_h = np.asarray(delta_h, dtype=np.float64)
    if delta_h[0] == 0:
        return 0
    below = np.flatnonzero(delta_h < fraction * delta_h[0])
    return int(below[0]) if len(below) else None


def _token_name(token: int, vocab: list[str] | None) -> str:
    return repr(vocab[token]) if vocab is not None else str(token)


def _replace_token(sequence: torch.Tensor, step: int, token, vocab, size: int):
    if token is None:
        raise UserError("this model reads tokens: give the token to put in, e.g. --token X")
    if not 0 <= token < size:
        raise UserError(f"token {token}: expected a token id from 0 to {size - 1}")
    old = int(sequence[step])
    if token == old:
        raise UserError(f"step {step} already holds {_token_name(old, vocab)}; expected another token")
    changed = sequence.clone()
    changed[step] = token
    return changed, f"token {_token_name(old, vocab)} -> {_token_name(token, vocab)}"


def _replace_value(sequence: torch.Tensor, step: int, delta, value, feature: int):
    if (delta is None) == (value is None):
        raise UserError("this model reads numbers: give either a change (--delta D) or a value (--value V)")
    width = sequence.shape[-1]
    if not 0 <= feature < width:
        raise UserError(f"feature {feature}: expected a feature from 0 to {width - 1}")
    changed = sequence.clone().double()
    old = float(changed[step, feature])
    changed[step, feature] = old + delta if value is None else value
    change = float(changed[step, feature]) - old
    if change == 0:
        raise UserError(f"x[{step}, {feature}] is already {old:.6g}; expected a value that changes it")
    which = f" (feature {feature})" if feature else ""
    return changed, f"input{which} {old:.6g} -> {old + change:.6g} ({change:+.6g})"


def _norms(difference: torch.Tensor) -> list[float | None]:
    """||v|| per step in float64; None where the model says nothing (NaN)."""
    norms = torch.linalg.vector_norm(difference.double(), dim=-1).numpy()
    return [None if np.isnan(v) else float(v) for v in norms]


def horizon(model, x: torch.Tensor, step: int, *, token: int | None = None, delta: float | None = None,
            value: float | None = None, feature: int = 0, dec_in: torch.Tensor | None = None,
            vocab: list[str] | None = None) -> dict:
    """What if the input at `step` were different: how far does the change reach?

    x is one sequence, [T] token ids or [T, F] numbers. Token inputs take another
    `token` id (named through `vocab`); numbers take `delta` (added) or `value`
    (typed) on input `feature` (0: adding's value, a series' only feature). For
    seq2seq the steps are x's then dec_in's. Both sequences run in float64, so the
    small differences at later steps keep their digits.

    delta_h[k] = ||h'_{step+k} - h_{step+k}|| of the last layer (both directions
    concatenated), delta_output[k] the norm of the change in the output (probabilities
    or values; None where the model says nothing), horizon = memory_horizon(delta_h).
    """
    joined = x if dec_in is None else torch.cat([x, dec_in])
    if not 0 <= step < len(joined):
        raise UserError(f"--step {step}: the sequence has steps 0 to {len(joined) - 1}")
    if joined.is_floating_point():
        changed, what = _replace_value(joined, step, delta, value, feature)
    else:  # only a SequenceModel reads tokens
        changed, what = _replace_token(joined, step, token, vocab, model.encoder.num_embeddings)
    both = torch.stack([joined.to(changed.dtype), changed])
    model = copy.deepcopy(model).to("cpu", torch.float64).eval()
    with torch.no_grad():
        xs, decs = (both, None) if dec_in is None else (both[:, : len(x)], both[:, len(x):])
        h, said = last_layer(model, xs, decs)
    delta_h = _norms(h[1, step:] - h[0, step:])
    return {"step": step, "perturbation": what, "delta_h": delta_h,
            "delta_output": _norms(said[1, step:] - said[0, step:]), "horizon": memory_horizon(delta_h)}


# ---------------------------------------------------------------- spectrum


def _matrix_spectrum(w: torch.Tensor) -> dict:
    """Spectral radius, eigenvalues [[re, im], ...] (largest modulus first) and singular
    values (largest first) of a square float64 matrix. torch's LAPACK rather than numpy's:
    it runs on torch's threads, which the trainer caps, while numpy's BLAS threads are
    nobody's to cap and spin-wait for a busy core, tens of times slower."""
    eigenvalues = torch.linalg.eigvals(w).numpy()
    eigenvalues = eigenvalues[np.argsort(-np.abs(eigenvalues), kind="stable")]
    return {"spectral_radius": float(np.abs(eigenvalues).max()),
            "eigenvalues": [[float(e.real), float(e.imag)] for e in eigenvalues],
            "singular_values": torch.linalg.svdvals(w).tolist()}


def spectrum(model) -> list[dict]:
    """Each layer's and direction's weight_hh: {"layer", "direction", "spectral_radius",
    "eigenvalues", "singular_values"}.

    An LSTM's weight_hh is [4H, H] and a GRU's [3H, H], not square: each H x H gate
    block (torch's order, LSTM i f g o, GRU r z n) has its own figures under
    "gates": {name: {...}}. The entry's own figures are then those of the block with
    the largest spectral radius, named in "gate": the gate whose pre-activation
    responds most strongly, step after step, to the state it reads.
    (A seq2seq model's decoder is not included.)
    """
    core = _core(model)
    hidden, names = core.hidden_size, CELLS[core_arch(core)].gate_names
    entries = []
    for layer in range(core.num_layers):
        for direction in range(2 if core.bidirectional else 1):
            name = f"weight_hh_l{layer}" + ("_reverse" if direction else "")
            w = getattr(core, name).detach().cpu().double()
            entry = {"layer": layer, "direction": direction}
            if len(names) == 1:
                entries.append({**entry, **_matrix_spectrum(w)})
                continue
            gates = {gate: _matrix_spectrum(w[k * hidden:(k + 1) * hidden]) for k, gate in enumerate(names)}
            top = max(gates, key=lambda gate: gates[gate]["spectral_radius"])
            entries.append({**entry, **gates[top], "gate": top, "gates": gates})
    return entries


def spectral_radius(model) -> float:
    """The first layer's (forward) spectral radius as `spectrum` reports it (an LSTM's or
    GRU's: its largest gate block's), eigenvalues only: cheap enough for every evaluation."""
    core = _core(model)
    hidden, gates = core.hidden_size, len(CELLS[core_arch(core)].gate_names)
    w = core.weight_hh_l0.detach().cpu().double()
    if not bool(torch.isfinite(w).all()):
        return float("nan")
    return max(float(torch.linalg.eigvals(w[k * hidden:(k + 1) * hidden]).abs().max()) for k in range(gates))


# ---------------------------------------------------------------- units


def _pearson(states: np.ndarray, values: np.ndarray) -> list[float | None]:
    """Pearson's r of each column of states [S, U] with values [S]; None for a constant column."""
    states = states.astype(np.float64)
    constant = states.max(0) == states.min(0)
    centred, v = states - states.mean(0), values - values.mean()
    scale = np.linalg.norm(centred, axis=0) * np.linalg.norm(v)
    corr = centred.T @ v / np.where(constant, 1.0, scale)
    return [None if c else float(np.clip(r, -1.0, 1.0)) for r, c in zip(corr, constant)]


def rank_units(model, samples: torch.Tensor, rule: str, vocab: list[str] | None = None) -> list[dict]:
    """Every hidden unit, ranked by |Pearson r| of its h with `rule` over all steps of
    all samples ([N, T] token ids, named through `vocab`, or [N, T, F] numbers):
    [{"layer", "direction", "unit", "corr"}, ...], best first; a unit whose h never
    changes has corr None and comes last. `rule` is a core.rules rule."""
    tokens = not samples.is_floating_point()
    compiled = compile_rule(rule, vocab=vocab if tokens else None, features=None if tokens else samples.shape[-1])
    values = compiled.values(samples.numpy()).reshape(-1)
    if values.max() == values.min():
        raise UserError(f"rule {rule!r} is {values[0]:g} at every step of these samples; "
                        "expected a rule that changes along them")
    states = hidden_states(model, samples)
    directions, hidden = (2 if _core(model).bidirectional else 1), states.shape[-1]
    corr = _pearson(states.reshape(len(values), -1), values)
    units = [{"layer": k // (directions * hidden), "direction": k // hidden % directions, "unit": k % hidden,
              "corr": r} for k, r in enumerate(corr)]
    return sorted(units, key=lambda u: (u["corr"] is None, -abs(u["corr"] or 0.0)))
