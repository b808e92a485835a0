"""What one sequence did inside the network: every state, gate and gradient.

Forward: torch's fused kernel runs each layer (so every h_t is exactly what
torch computes); once all h_{t-1} are known, every gate at every step comes from
one matrix product. Backward: the backpropagation-through-time recurrence, by
hand, one small vector-matrix product per step. That gives the *full* derivative
of the sequence loss with respect to each hidden state, dL/dh_t, which includes
every path through later steps and layers (autograd on the stacked outputs would
give only the direct part).

The equations, in torch's gate order (W = [W_i; W_f; W_g; W_o] etc.):

    RNN   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu)
    LSTM  i,f,o = sigmoid(...), g = tanh(...)   over W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
          c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    GRU   r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
          z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
          n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
          h_t = (1 - z) * n + z * h_{t-1}

Arrays per layer and direction are indexed l*D + d, as in torch's h_n; the
backward direction's state at time t is the one after it has read x_t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rnn_tui.core import tasks
from rnn_tui.core.model import MANY_TO_ONE, SequenceModel

GATE_NAMES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ("preact",), "esn": ("preact",)}


@dataclass
class Trace:
    arch: str
    kind: str  # the task kind, or "core" for a bare torch.nn module
    layers: int
    directions: int
    hidden: int
    h: np.ndarray  # [T, L*D, H]
    gates: dict[str, np.ndarray]  # name -> [T, L*D, H]
    outputs: np.ndarray  # [T, O]: probabilities, or the predicted value
    loss: np.ndarray  # [T] per-step loss, NaN where a step is not scored
    total_loss: float  # the sequence loss L that grad_h and grad_x differentiate
    grad_h: np.ndarray  # [T, L*D] ||dL/dh_t||, full BPTT
    grad_x: np.ndarray  # [T] ||dL/dx_t||; for tokens, x_t is the token's embedding
    c: np.ndarray | None = None  # [T, L*D, H], LSTM only
    inputs: np.ndarray | None = None  # [T, F] vector inputs
    tokens: np.ndarray | None = None  # [T] token ids
    vocab: list[str] | None = None
    targets: np.ndarray | None = None
    class_names: list[str] | None = None
    decoder_start: int | None = None  # seq2seq: steps from here on are the decoder's
    meta: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.h.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays under their documented `.npz` names."""
        out = {"h": self.h, "outputs": self.outputs, "loss": self.loss, "grad_h": self.grad_h,
               "grad_x": self.grad_x, "total_loss": np.float64(self.total_loss)}
        if self.c is not None:
            out["c"] = self.c
        for name, value in self.gates.items():
            out[name if name == "preact" else f"gate_{name}"] = value
        if self.tokens is not None:
            out["tokens"] = self.tokens
            out["vocab"] = np.array(self.vocab if self.vocab is not None else [], dtype=str)
        if self.inputs is not None:
            out["inputs"] = self.inputs
        if self.targets is not None:
            out["targets"] = self.targets
        if self.class_names is not None:
            out["class_names"] = np.array(self.class_names, dtype=str)
        if self.decoder_start is not None:
            out["decoder_start"] = np.int64(self.decoder_start)
        return out

    def save(self, path) -> None:
        with open(path, "wb") as fh:  # np.savez would append ".npz" to a path without it
            np.savez_compressed(fh, **self.arrays())


# ---------------------------------------------------------------- forward


@dataclass
class _Direction:
    """One layer-direction's forward values, in its own processing order."""

    x: np.ndarray  # [T, in]
    h: np.ndarray  # [T, H]
    gates: dict[str, np.ndarray]
    c: np.ndarray | None
    coef: np.ndarray  # local derivatives the backward recurrence multiplies by
    w_ih: np.ndarray
    w_hh: np.ndarray
    aux: dict = field(default_factory=dict)


@dataclass
class _Stack:
    arch: str
    layers: int
    directions: int
    hidden: int
    cells: list[list[_Direction]]  # [layer][direction]
    out: np.ndarray  # [T, D*H] top layer output, time order
    h_n: torch.Tensor  # [L*D, H]
    c_n: torch.Tensor | None


def _arch(core: nn.RNNBase) -> str:
    return {"LSTM": "lstm", "GRU": "gru"}.get(core.mode, "rnn")


def _weights(core: nn.RNNBase, layer: int, direction: int, dtype) -> tuple[np.ndarray, ...]:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    w_ih = getattr(core, "weight_ih" + suffix).detach().cpu().numpy().astype(dtype)
    w_hh = getattr(core, "weight_hh" + suffix).detach().cpu().numpy().astype(dtype)
    if core.bias:
        b_ih = getattr(core, "bias_ih" + suffix).detach().cpu().numpy().astype(dtype)
        b_hh = getattr(core, "bias_hh" + suffix).detach().cpu().numpy().astype(dtype)
    else:
        b_ih = b_hh = np.zeros(w_ih.shape[0], dtype)
    return w_ih, w_hh, b_ih, b_hh


def _fused_layer(core: nn.RNNBase, layer: int) -> nn.RNNBase:
    """A one-layer copy of `core`'s layer, so torch's kernel gives its outputs."""
    directions = 2 if core.bidirectional else 1
    kwargs = dict(
        input_size=core.input_size if layer == 0 else core.hidden_size * directions,
        hidden_size=core.hidden_size,
        bias=core.bias,
        bidirectional=core.bidirectional,
    )
    if core.mode.startswith("RNN"):
        kwargs["nonlinearity"] = core.nonlinearity
    ref = core.weight_hh_l0
    single = type(core)(dtype=ref.dtype, **kwargs)
    with torch.no_grad():
        for name, param in single.named_parameters():
            param.copy_(getattr(core, name.replace("_l0", f"_l{layer}")).detach().cpu())
    return single


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # no overflow for large |a|


def _direction_forward(arch, nonlinearity, x, h, h0, c0, weights) -> _Direction:
    w_ih, w_hh, b_ih, b_hh = weights
    hidden = w_hh.shape[1]
    h_prev = np.concatenate([h0[None], h[:-1]])
    gi = x @ w_ih.T + b_ih  # every step's input contribution in one product
    gh = h_prev @ w_hh.T + b_hh
    if arch == "lstm":
        pre = gi + gh
        i, f = _sigmoid(pre[:, :hidden]), _sigmoid(pre[:, hidden : 2 * hidden])
        g, o = np.tanh(pre[:, 2 * hidden : 3 * hidden]), _sigmoid(pre[:, 3 * hidden :])
        c = np.empty_like(h)
        state, ig = c0, i * g
        for t in range(len(h)):  # c_t = f_t c_{t-1} + i_t g_t: elementwise, cheap
            state = f[t] * state + ig[t]
            c[t] = state
        tc = np.tanh(c)
        c_prev = np.concatenate([c0[None], c[:-1]])
        coef = np.concatenate([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], 1)
        f_next = np.concatenate([f[1:], np.ones((1, hidden), f.dtype)])
        aux = {"dh_to_dc": o * (1 - tc * tc), "f_next": f_next, "f0": f[0]}
        return _Direction(x, h, {"i": i, "f": f, "g": g, "o": o}, c, coef, w_ih, w_hh, aux)
    if arch == "gru":
        r = _sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = _sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        gh_n = gh[:, 2 * hidden :]
        n = np.tanh(gi[:, 2 * hidden :] + r * gh_n)
        dn = (1 - z) * (1 - n * n)  # dh_t -> pre-activation of n
        coef_i = np.concatenate([dn * gh_n * r * (1 - r), (h_prev - n) * z * (1 - z), dn], 1)
        coef_h = np.concatenate([coef_i[:, : 2 * hidden], dn * r], 1)
        return _Direction(x, h, {"r": r, "z": z, "n": n}, None, coef_h, w_ih, w_hh, {"coef_i": coef_i, "z": z})
    pre = gi + gh
    slope = (1 - h * h) if nonlinearity == "tanh" else (pre > 0).astype(h.dtype)
    return _Direction(x, h, {"preact": pre}, None, slope, w_ih, w_hh)


def _forward_stack(core: nn.RNNBase, x: torch.Tensor, h0=None, c0=None) -> _Stack:
    """Run every layer with torch's kernel, then rebuild its gates. x: [T, in]."""
    arch, hidden, layers = _arch(core), core.hidden_size, core.num_layers
    directions = 2 if core.bidirectional else 1
    dtype = np.float64 if x.dtype == torch.float64 else np.float32
    if h0 is None:
        h0 = torch.zeros(layers * directions, hidden, dtype=x.dtype)
    if arch == "lstm" and c0 is None:
        c0 = torch.zeros_like(h0)
    cells, h_n, c_n = [], [], []
    layer_in = x.detach()
    with torch.no_grad():
        for layer in range(layers):
            rows = slice(layer * directions, (layer + 1) * directions)
            state = (h0[rows], c0[rows]) if arch == "lstm" else h0[rows]
            out, final = _fused_layer(core, layer)(layer_in, state)
            if arch == "lstm":
                h_n.append(final[0])
                c_n.append(final[1])
            else:
                h_n.append(final)
            x_np, out_np = layer_in.numpy().astype(dtype), out.numpy().astype(dtype)
            row = []
            for d in range(directions):
                order = slice(None, None, -1) if d else slice(None)
                h_d = out_np[order, d * hidden : (d + 1) * hidden]
                c0_d = c0[layer * directions + d].numpy().astype(dtype) if arch == "lstm" else None
                h0_d = h0[layer * directions + d].numpy().astype(dtype)
                weights = _weights(core, layer, d, dtype)
                row.append(_direction_forward(arch, getattr(core, "nonlinearity", "tanh"), x_np[order], h_d, h0_d, c0_d, weights))
            cells.append(row)
            layer_in = out
    return _Stack(
        arch, layers, directions, hidden, cells, layer_in.numpy().astype(dtype),
        torch.cat(h_n), torch.cat(c_n) if c_n else None,
    )


# ---------------------------------------------------------------- backward


def _direction_backward(arch: str, cell: _Direction, direct: np.ndarray, dh_final, dc_final):
    """Backpropagate through one layer-direction, last step first.

    direct: [T, H] dL/dh_t from outside this recurrence (the head, the layer
    above); dh_final/dc_final: dL/d(final state), e.g. from a decoder.
    Returns the total dL/dh_t [T, H], dL/dx_t [T, in] and dL/d(initial state).
    """
    steps, hidden = cell.h.shape
    direct = direct.copy()
    if dh_final is not None:
        direct[-1] += dh_final
    w_hh, grad_h = cell.w_hh, np.empty_like(cell.h)
    dc0 = None
    if arch == "lstm":
        dh_to_dc, f_next = cell.aux["dh_to_dc"], cell.aux["f_next"]
        d_gates = np.empty((steps, 4 * hidden), cell.h.dtype)
        dc = np.zeros(hidden, cell.h.dtype) if dc_final is None else dc_final.astype(cell.h.dtype)
        dg = np.zeros(4 * hidden, cell.h.dtype)
        for t in range(steps - 1, -1, -1):
            dh = direct[t] + dg @ w_hh
            dc = dh * dh_to_dc[t] + dc * f_next[t]
            dg = np.concatenate((dc, dc, dc, dh)) * cell.coef[t]
            d_gates[t], grad_h[t] = dg, dh
        dh0, dc0 = dg @ w_hh, dc * cell.aux["f0"]
        return grad_h, d_gates @ cell.w_ih, dh0, dc0
    if arch == "gru":
        z, carry = cell.aux["z"], np.zeros(hidden, cell.h.dtype)
        for t in range(steps - 1, -1, -1):
            dh = direct[t] + carry
            carry = dh * z[t] + (np.concatenate((dh, dh, dh)) * cell.coef[t]) @ w_hh
            grad_h[t] = dh
        return grad_h, (np.tile(grad_h, 3) * cell.aux["coef_i"]) @ cell.w_ih, carry, None
    carry = np.zeros(hidden, cell.h.dtype)
    for t in range(steps - 1, -1, -1):
        dh = direct[t] + carry
        carry = (dh * cell.coef[t]) @ w_hh
        grad_h[t] = dh
    return grad_h, (grad_h * cell.coef) @ cell.w_ih, carry, None


def _backward_stack(stack: _Stack, d_out: np.ndarray, dh_n=None, dc_n=None):
    """dL/dh_t for every layer-direction (time order) and dL/dx_t of the stack's input."""
    hidden, directions = stack.hidden, stack.directions
    steps = d_out.shape[0]
    grad_h = np.zeros((steps, stack.layers * directions, hidden), d_out.dtype)
    dh0 = np.zeros((stack.layers * directions, hidden), d_out.dtype)
    dc0 = np.zeros_like(dh0)
    d_above = d_out
    for layer in range(stack.layers - 1, -1, -1):
        d_in = 0
        for d in range(directions):
            k = layer * directions + d
            order = slice(None, None, -1) if d else slice(None)
            direct = d_above[order, d * hidden : (d + 1) * hidden]
            extra_h = None if dh_n is None else dh_n[k]
            extra_c = None if dc_n is None else dc_n[k]
            g_h, g_x, g_h0, g_c0 = _direction_backward(stack.arch, stack.cells[layer][d], direct, extra_h, extra_c)
            grad_h[:, k] = g_h[order]
            d_in = d_in + g_x[order]
            dh0[k] = g_h0
            if g_c0 is not None:
                dc0[k] = g_c0
        d_above = d_in
    return grad_h, d_above, dh0, dc0


# ---------------------------------------------------------------- public


def _collect(stack: _Stack, name: str) -> np.ndarray:
    """[T, L*D, H] of a per-direction array, back in time order."""
    parts = []
    for row in stack.cells:
        for d, cell in enumerate(row):
            value = cell.c if name == "c" else cell.h if name == "h" else cell.gates[name]
            parts.append(value[::-1] if d else value)
    return np.stack(parts, axis=1)


def _states(stack: _Stack, arch: str):
    gates = {name: _collect(stack, name) for name in GATE_NAMES[arch]}
    c = _collect(stack, "c") if stack.arch == "lstm" else None
    return _collect(stack, "h"), c, gates


def trace_core(core: nn.RNNBase, inputs: torch.Tensor, arch: str | None = None) -> Trace:
    """Trace a bare torch.nn.RNN/LSTM/GRU on inputs [T, input_size].

    With no task there is no head, so the loss is L = 1/2 ||h_n||^2 over the last
    layer's final states (both directions for a bidirectional core).
    """
    stack = _forward_stack(core, inputs)
    arch = arch or stack.arch
    rows = slice((stack.layers - 1) * stack.directions, None)
    final = stack.h_n.numpy().astype(stack.out.dtype)
    dh_n = np.zeros_like(final)
    dh_n[rows] = final[rows]
    grad_h, d_x, _, _ = _backward_stack(stack, np.zeros_like(stack.out), dh_n=dh_n)
    h, c, gates = _states(stack, arch)
    steps = inputs.shape[0]
    total = 0.5 * float((final[rows] ** 2).sum())
    loss = np.full(steps, np.nan)
    loss[-1] = total
    return Trace(
        arch, "core", stack.layers, stack.directions, stack.hidden, h, gates,
        outputs=stack.out, loss=loss, total_loss=total,
        grad_h=np.linalg.norm(grad_h, axis=-1), grad_x=np.linalg.norm(d_x, axis=-1), c=c,
        inputs=inputs.detach().numpy(),
    )


def trace_sequence(model: SequenceModel, x: torch.Tensor, y: torch.Tensor, dec_in=None) -> Trace:
    """Trace one sequence (x: [T] tokens or [T, F] values) through a SequenceModel.

    L is the training loss of this one sequence (the mean over its scored steps),
    so grad_h is the gradient the optimiser would see for it.
    """
    kind = model.task
    with torch.no_grad():
        embedded = model.encoder(x)
        if not embedded.is_floating_point():
            embedded = embedded.float()
        stack = _forward_stack(model.core, embedded)
        top = stack
        if kind == "seq2seq":
            top = _forward_stack(model.decoder, model.encoder(dec_in), h0=stack.h_n, c0=stack.c_n)

    # Only the head runs under autograd: it gives the direct gradient on the top layer.
    out = torch.tensor(top.out, requires_grad=True)
    param = next(model.head.parameters())
    out_t = out.to(param.dtype)
    with torch.enable_grad():
        if kind in MANY_TO_ONE:
            final = model.head(model.features(out_t[None]))
            pred = final.squeeze(-1) if kind == "regress" else final
            loss = tasks.batch_loss(kind, pred, y[None])
            with torch.no_grad():
                per_step = model.head(out_t) if model.directions == 1 else torch.full(
                    (len(out_t), final.shape[-1]), float("nan"), dtype=out_t.dtype
                )
                per_step[-1] = final[0]
            step_loss = torch.full((len(out_t),), float("nan"))
            step_loss[-1] = tasks.step_losses(kind, pred, y[None])[0].detach()
        else:
            step_pred = model.head(out_t)
            pred = step_pred.squeeze(-1) if kind == "forecast" else step_pred
            loss = tasks.batch_loss(kind, pred[None], y[None])
            per_step = step_pred.detach()
            step_loss = tasks.step_losses(kind, pred[None].detach(), y[None])[0]
        loss.backward()
    d_out = out.grad.numpy()

    if kind == "seq2seq":
        g_dec, d_dec_x, dh0, dc0 = _backward_stack(top, d_out)
        g_enc, d_x, _, _ = _backward_stack(stack, np.zeros_like(stack.out), dh_n=dh0, dc_n=dc0)
        grad_h = np.concatenate([g_enc, g_dec])
        d_x = np.concatenate([d_x, d_dec_x])
    else:
        grad_h, d_x, _, _ = _backward_stack(stack, d_out)
    h, c, gates = _states(stack, model.config.arch)
    if kind == "seq2seq":
        h2, c2, gates2 = _states(top, model.config.arch)
        h = np.concatenate([h, h2])
        c = None if c is None else np.concatenate([c, c2])
        gates = {k: np.concatenate([v, gates2[k]]) for k, v in gates.items()}

    outputs = per_step.numpy()
    if kind in tasks.CLASSIFYING:
        outputs = torch.softmax(per_step, -1).numpy()
    elif outputs.ndim == 1:
        outputs = outputs[:, None]
    step_loss = step_loss.numpy().astype(np.float64)
    tokens = x.numpy() if not x.is_floating_point() else None
    if kind == "seq2seq":  # encoder steps have no output and no loss
        enc_steps = len(x)
        outputs = np.concatenate([np.full((enc_steps, outputs.shape[1]), np.nan), outputs])
        step_loss = np.concatenate([np.full(enc_steps, np.nan), step_loss])
        tokens = np.concatenate([x.numpy(), dec_in.numpy()])
    return Trace(
        model.config.arch, kind, stack.layers, stack.directions, stack.hidden, h, gates,
        outputs=outputs, loss=step_loss, total_loss=loss.item(), c=c,
        grad_h=np.linalg.norm(grad_h, axis=-1), grad_x=np.linalg.norm(d_x, axis=-1),
        inputs=None if tokens is not None else x.numpy(), tokens=tokens,
        targets=y.numpy(), decoder_start=len(x) if kind == "seq2seq" else None,
    )
