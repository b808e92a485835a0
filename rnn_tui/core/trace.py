"""What one sequence did inside the network: every state, gate and gradient.

Forward: torch's fused kernel runs each layer (so every h_t is exactly what
torch computes); once all h_{t-1} are known, every gate at every step comes from
one matrix product. Backward: the backpropagation-through-time recurrence, by
hand, one small vector-matrix product per step. That gives the *full* derivative
of the sequence loss with respect to each hidden state, dL/dh_t, which includes
every path through later steps and layers (autograd on the stacked outputs would
give only the direct part).

Each architecture is one class below, with its forward and its backward side by
side and, in its docstring, its equations and the layout of what it caches:
ElmanCell ("rnn", and "esn", which runs the same equations), LSTMCell and
GRUCell, picked by arch from CELLS. In brief, in torch's gate order
(W = [W_i; W_f; W_g; W_o] etc.):

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

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnn_tui.core import tasks
from rnn_tui.core.kinds import CLASSIFYING, MANY_TO_ONE
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace_file import Trace
from rnn_tui.errors import UserError


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # no overflow for large |a|


def _norms(v: np.ndarray) -> np.ndarray:
    """||v|| over the last axis, in float64, with no square underflowing.

    A float32 square underflows below ~1e-19 and a float64 one below ~1e-154, so
    each vector is first scaled by the power of two nearest its largest |v_i|
    (exact: it changes no digit), normed, and scaled back.
    """
    v = np.asarray(v, np.float64)
    largest = np.max(np.abs(v), axis=-1, keepdims=True)
    _, exponent = np.frexp(np.where(np.isfinite(largest) & (largest > 0), largest, 1.0))
    return np.linalg.norm(np.ldexp(v, -exponent), axis=-1) * np.ldexp(1.0, exponent[..., 0])


# ---------------------------------------------------------------- cells


class Cell:
    """One layer-direction of one sequence: its cached forward values and its BPTT.

    Built from that layer-direction's weights as numpy arrays in the trace's dtype,
    laid out like torch's weight_ih_l[k] [G*H, in], weight_hh_l[k] [G*H, H] and
    bias_ih_l[k], bias_hh_l[k] [G*H] (zeros without bias): G gate blocks, in the
    subclass's gate order. Arrays are in the direction's own processing order (a
    backward direction's step 0 is x_{T-1}); h_{-1} = h0 and c_{-1} = c0.

    forward(x [T, in], h [T, H] from torch's kernel, h0 [H], c0 [H] or None)
    caches h, gates {name: [T, H]} for each of gate_names, c [T, H] (LSTM only,
    else None) and the local derivatives that backward() multiplies by; it returns
    the cell. backward(direct [T, H], dc_final [H] or None) runs last step first:
    direct is dL/dh_t from outside the recurrence (the head, the layer above, and
    dL/dh_n at the last step), dc_final is dL/dc_n. It returns the total dL/dh_t
    [T, H], dL/dx_t [T, in], dL/dh0 [H] and dL/dc0 [H] (None but for the LSTM).
    """

    gate_names: tuple[str, ...] = ()
    c: np.ndarray | None = None

    def __init__(self, weights: tuple[np.ndarray, ...], nonlinearity: str = "tanh"):
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = weights
        self.nonlinearity = nonlinearity

    def _products(self, x, h, h0):
        """h_{t-1}, W_ih x_t + b_ih and W_hh h_{t-1} + b_hh for every step, one product each."""
        h_prev = np.concatenate([h0[None], h[:-1]])
        return h_prev, x @ self.w_ih.T + self.b_ih, h_prev @ self.w_hh.T + self.b_hh


class ElmanCell(Cell):
    """Elman RNN ("rnn"; also "esn", whose reservoir runs the same equations).

        preact_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        (G = 1)
        h_t = tanh(preact_t)                                    (or relu)

    Caches, besides h:

        gates["preact"]  [T, H]   preact_t
        coef             [T, H]   dh_t/dpreact_t: 1 - h_t^2 (tanh) or [preact_t > 0] (relu)

    Backward, with dL/dh_T = 0:

        dL/dh_t = direct_t + (dL/dh_{t+1} * coef_{t+1}) @ W_hh
        dL/dx_t = (dL/dh_t * coef_t) @ W_ih
    """

    gate_names = ("preact",)

    def forward(self, x, h, h0, c0=None) -> ElmanCell:
        _, gi, gh = self._products(x, h, h0)
        pre = gi + gh
        self.h, self.gates = h, {"preact": pre}
        self.coef = (1 - h * h) if self.nonlinearity == "tanh" else (pre > 0).astype(h.dtype)
        return self

    def backward(self, direct, dc_final=None):
        coef, w_hh = self.coef, self.w_hh
        grad_h, carry = np.empty_like(self.h), np.zeros(self.h.shape[1], self.h.dtype)
        for t in range(len(grad_h) - 1, -1, -1):
            dh = direct[t] + carry
            carry = (dh * coef[t]) @ w_hh
            grad_h[t] = dh
        return grad_h, (grad_h * coef) @ self.w_ih, carry, None


class LSTMCell(Cell):
    """LSTM. a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh is [4H], in torch's
    W_ii|W_if|W_ig|W_io row order (G = 4), split into a_i, a_f, a_g, a_o:

        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o),   g = tanh(a_g)
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

    Caches, besides h:

        gates["i"], ["f"], ["g"], ["o"]   each [T, H]
        c         [T, H]    c_t
        coef      [T, 4H]   i|f|g|o blocks of dc_t/da (the first three) and dh_t/da_o:
                            coef[:, 0:H]   = g * i * (1 - i)          dc_t/da_i
                            coef[:, H:2H]  = c_{t-1} * f * (1 - f)    dc_t/da_f
                            coef[:, 2H:3H] = i * (1 - g^2)            dc_t/da_g
                            coef[:, 3H:4H] = tanh(c_t) * o * (1 - o)  dh_t/da_o
        dh_to_dc  [T, H]    dh_t/dc_t = o * (1 - tanh(c_t)^2)
        f_next    [T, H]    dc_{t+1}/dc_t = f_{t+1}; ones at the last step

    Backward, with dL/da_T = 0 and dL/dc_T = dc_final (or 0):

        dL/dh_t = direct_t + dL/da_{t+1} @ W_hh
        dL/dc_t = dL/dh_t * dh_to_dc_t + dL/dc_{t+1} * f_next_t
        dL/da_t = [dL/dc_t, dL/dc_t, dL/dc_t, dL/dh_t] * coef_t      (i|f|g|o)
        dL/dx_t = dL/da_t @ W_ih,   dL/dh_{-1} = dL/da_0 @ W_hh,   dL/dc_{-1} = dL/dc_0 * f_0
    """

    gate_names = ("i", "f", "g", "o")

    def forward(self, x, h, h0, c0=None) -> LSTMCell:
        hidden = h.shape[1]
        _, gi, gh = self._products(x, h, h0)
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
        self.h, self.c, self.gates = h, c, {"i": i, "f": f, "g": g, "o": o}
        self.coef = np.concatenate([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], 1)
        self.dh_to_dc = o * (1 - tc * tc)
        self.f_next = np.concatenate([f[1:], np.ones((1, hidden), f.dtype)])
        return self

    def backward(self, direct, dc_final=None):
        coef, dh_to_dc, f_next, w_hh = self.coef, self.dh_to_dc, self.f_next, self.w_hh
        (steps, hidden), dtype = self.h.shape, self.h.dtype
        grad_h, d_gates = np.empty_like(self.h), np.empty((steps, 4 * hidden), dtype)
        dc = np.zeros(hidden, dtype) if dc_final is None else dc_final.astype(dtype)
        dg = np.zeros(4 * hidden, dtype)
        for t in range(steps - 1, -1, -1):
            dh = direct[t] + dg @ w_hh
            dc = dh * dh_to_dc[t] + dc * f_next[t]
            dg = np.concatenate((dc, dc, dc, dh)) * coef[t]
            d_gates[t], grad_h[t] = dg, dh
        return grad_h, d_gates @ self.w_ih, dg @ w_hh, dc * self.gates["f"][0]


class GRUCell(Cell):
    """GRU. gi_t = W_ih x_t + b_ih and gh_t = W_hh h_{t-1} + b_hh are [3H] each, in
    torch's W_ir|W_iz|W_in (W_hr|W_hz|W_hn) row order (G = 3):

        r = sigmoid(gi_r + gh_r),   z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n),  h_t = (1 - z) * n + z * h_{t-1}

    Caches, besides h (with dn = (1 - z) * (1 - n^2) = dh_t/d(gi_n)):

        gates["r"], ["z"], ["n"]   each [T, H]
        coef_i   [T, 3H]   r|z|n blocks of dh_t/d(gi_t):
                           coef_i[:, 0:H]   = dn * gh_n * r * (1 - r)
                           coef_i[:, H:2H]  = (h_{t-1} - n) * z * (1 - z)
                           coef_i[:, 2H:3H] = dn
        coef_h   [T, 3H]   the same for dh_t/d(gh_t): coef_i but coef_h[:, 2H:3H] = dn * r

    Backward, with dL/dh_T = 0 and [v]*3 = v|v|v:

        dL/dh_t = direct_t + dL/dh_{t+1} * z_{t+1} + ([dL/dh_{t+1}]*3 * coef_h_{t+1}) @ W_hh
        dL/dx_t = ([dL/dh_t]*3 * coef_i_t) @ W_ih
    """

    gate_names = ("r", "z", "n")

    def forward(self, x, h, h0, c0=None) -> GRUCell:
        hidden = h.shape[1]
        h_prev, gi, gh = self._products(x, h, h0)
        r = _sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = _sigmoid(gi[:, hidden : 2 * hidden] + gh[:, hidden : 2 * hidden])
        gh_n = gh[:, 2 * hidden :]
        n = np.tanh(gi[:, 2 * hidden :] + r * gh_n)
        dn = (1 - z) * (1 - n * n)  # dh_t -> pre-activation of n
        self.h, self.gates = h, {"r": r, "z": z, "n": n}
        self.coef_i = np.concatenate([dn * gh_n * r * (1 - r), (h_prev - n) * z * (1 - z), dn], 1)
        self.coef_h = np.concatenate([self.coef_i[:, : 2 * hidden], dn * r], 1)
        return self

    def backward(self, direct, dc_final=None):
        coef_h, z, w_hh = self.coef_h, self.gates["z"], self.w_hh
        grad_h, carry = np.empty_like(self.h), np.zeros(self.h.shape[1], self.h.dtype)
        for t in range(len(grad_h) - 1, -1, -1):
            dh = direct[t] + carry
            carry = dh * z[t] + (np.concatenate((dh, dh, dh)) * coef_h[t]) @ w_hh
            grad_h[t] = dh
        return grad_h, (np.tile(grad_h, 3) * self.coef_i) @ self.w_ih, carry, None


CELLS: dict[str, type[Cell]] = {"rnn": ElmanCell, "esn": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}


# ---------------------------------------------------------------- stack


@dataclass
class _Stack:
    arch: str
    layers: int
    directions: int
    hidden: int
    cells: list[list[Cell]]  # [layer][direction]
    out: np.ndarray  # [T, D*H] top layer output, time order
    h_n: torch.Tensor  # [L*D, H]
    c_n: torch.Tensor | None


def core_arch(core: nn.RNNBase) -> str:
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


def fused_layer(core: nn.RNNBase, layer: int) -> nn.RNNBase:
    """A one-layer copy of `core`'s layer, so torch's kernel gives its outputs."""
    directions = 2 if core.bidirectional else 1
    kwargs = dict(input_size=core.input_size if layer == 0 else core.hidden_size * directions,
                  hidden_size=core.hidden_size, bias=core.bias, bidirectional=core.bidirectional)
    if core.mode.startswith("RNN"):
        kwargs["nonlinearity"] = core.nonlinearity
    single = type(core)(dtype=core.weight_hh_l0.dtype, **kwargs)
    with torch.no_grad():
        for name, param in single.named_parameters():
            param.copy_(getattr(core, name.replace("_l0", f"_l{layer}")).detach().cpu())
    return single


def _forward_stack(core: nn.RNNBase, x: torch.Tensor, h0=None, c0=None) -> _Stack:
    """Run every layer with torch's kernel, then rebuild its gates. x: [T, in]."""
    arch, hidden, layers = core_arch(core), core.hidden_size, core.num_layers
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
            out, final = fused_layer(core, layer)(layer_in, state)
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
                cell = CELLS[arch](weights, getattr(core, "nonlinearity", "tanh"))
                row.append(cell.forward(x_np[order], h_d, h0_d, c0_d))
            cells.append(row)
            layer_in = out
    return _Stack(
        arch, layers, directions, hidden, cells, layer_in.numpy().astype(dtype),
        torch.cat(h_n), torch.cat(c_n) if c_n else None,
    )


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
            direct = d_above[order, d * hidden : (d + 1) * hidden].copy()
            if dh_n is not None:  # dL/dh_n from outside, e.g. a decoder
                direct[-1] += dh_n[k]
            g_h, g_x, g_h0, g_c0 = stack.cells[layer][d].backward(direct, None if dc_n is None else dc_n[k])
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
    gates = {name: _collect(stack, name) for name in CELLS[arch].gate_names}
    c = _collect(stack, "c") if stack.arch == "lstm" else None
    return _collect(stack, "h"), c, gates


def trace_core(core: nn.RNNBase, inputs: torch.Tensor, arch: str | None = None) -> Trace:
    """Trace a bare torch.nn.RNN/LSTM/GRU on inputs [T, input_size].

    With no task there is no head, so the loss is L = 1/2 ||h_n||^2 over the last
    layer's final states (both directions for a bidirectional core). It is the one
    scored step's loss, so grad_h_last is grad_h.
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
    total = 0.5 * float((final[rows].astype(np.float64) ** 2).sum())  # float32 squares overflow past 1.8e19
    loss = np.full(steps, np.nan)
    loss[-1] = total
    grad_norms = _norms(grad_h)
    return Trace(
        arch, "core", stack.layers, stack.directions, stack.hidden, h, gates,
        outputs=stack.out, loss=loss, total_loss=total,
        grad_h=grad_norms, grad_x=_norms(d_x), grad_h_last=grad_norms, c=c,
        inputs=inputs.detach().numpy(),
    )


def trace_sequence(model: SequenceModel, x: torch.Tensor, y: torch.Tensor, dec_in=None) -> Trace:
    """Trace one sequence (x: [T] tokens or [T, F] values) through a SequenceModel.

    L is the training loss of this one sequence (the mean over its scored steps),
    so grad_h is the gradient the optimiser would see for it. grad_h_last is the
    gradient of one step's loss alone: the last scored step's in each direction's
    own reading order (for a backward direction, the first scored step in time).
    For a many-to-one task that one step's loss is L, and grad_h_last is grad_h.
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
            step_terms = None
        else:
            step_pred = model.head(out_t)
            pred = step_pred.squeeze(-1) if kind == "forecast" else step_pred
            loss = tasks.batch_loss(kind, pred[None], y[None])
            per_step = step_pred.detach()
            step_terms = tasks.step_losses(kind, pred[None], y[None])[0]  # each step's loss, under autograd
            step_loss = step_terms.detach()
        (d_out,) = torch.autograd.grad(loss, out, retain_graph=step_terms is not None)

    def backward(d_top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dL/dh_t [T, L*D, H] and dL/dx_t [T, in] from dL/d(the top layer's output);
        for seq2seq, through the decoder into the encoder, the decoder's steps after the encoder's."""
        if kind != "seq2seq":
            grad, d_in, _, _ = _backward_stack(stack, d_top)
            return grad, d_in
        g_dec, d_dec_x, dh0, dc0 = _backward_stack(top, d_top)
        g_enc, d_enc_x, _, _ = _backward_stack(stack, np.zeros_like(stack.out), dh_n=dh0, dc_n=dc0)
        return np.concatenate([g_enc, g_dec]), np.concatenate([d_enc_x, d_dec_x])

    grad_h, d_x = backward(d_out.numpy())
    grad_norms = _norms(grad_h)
    if step_terms is None:
        grad_last_norms = grad_norms  # one scored step: its loss is L
    else:
        grad_last_norms = _norms(_last_step_gradients(step_terms, out, backward, stack.directions, grad_h.shape))

    h, c, gates = _states(stack, model.config.arch)
    if kind == "seq2seq":
        h2, c2, gates2 = _states(top, model.config.arch)
        h = np.concatenate([h, h2])
        c = None if c is None else np.concatenate([c, c2])
        gates = {k: np.concatenate([v, gates2[k]]) for k, v in gates.items()}

    outputs = per_step.numpy()
    if kind in CLASSIFYING:
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
        grad_h=grad_norms, grad_x=_norms(d_x), grad_h_last=grad_last_norms,
        inputs=None if tokens is not None else x.numpy(), tokens=tokens,
        targets=y.numpy(), decoder_start=len(x) if kind == "seq2seq" else None,
    )


def _last_step_gradients(step_terms: torch.Tensor, out: torch.Tensor, backward, directions: int,
                         shape: tuple[int, ...]) -> np.ndarray:
    """d(one step's loss)/dh_t [T, L*D, H]: for each direction, its last scored step's.

    A forward direction's last scored step is the last in time; a backward
    direction reads the sequence from its end, so its last is the first in time.
    Each is one more BPTT pass, with the direct gradient of that step's loss only.
    NaN where no step is scored.
    """
    scored = np.flatnonzero(~torch.isnan(step_terms.detach()).numpy())
    grads = np.full(shape, np.nan)
    if not len(scored):
        return grads
    passes = {}
    for d, step in enumerate((scored[-1], scored[0])[:directions]):
        if step not in passes:
            with torch.enable_grad():
                (d_top,) = torch.autograd.grad(step_terms[step], out, retain_graph=True)
            passes[step] = backward(d_top.numpy())[0]
        grads[:, d::directions] = passes[step][:, d::directions]
    return grads


def check_finite(tr: Trace, what: str) -> None:
    """A UserError when the network overflowed (a relu core whose state grows step after
    step, say): a trace of NaN and inf is no picture of what the weights do."""
    bad = ~np.isfinite(np.asarray(tr.h, dtype=np.float64)).all(axis=tuple(range(1, tr.h.ndim)))
    if bad.any() or not np.isfinite(tr.total_loss) or not np.isfinite(tr.grad_h).all():
        where = f"at step {int(np.argmax(bad)) + 1} of {tr.steps}" if bad.any() else "in its gradient"
        largest = float(np.abs(tr.inputs).max()) if tr.inputs is not None and tr.inputs.size else math.nan
        raise UserError(f"{what}: the hidden state overflows {tr.h.dtype} {where} (inputs up to {largest:.3g}); "
                        "expected weights and inputs under which it stays finite")
