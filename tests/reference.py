"""An independent, slow, obviously-correct RNN/LSTM/GRU: one step at a time in torch.

Each hidden state gets a zero "probe" added before it is used anywhere, so
autograd's gradient with respect to the probe is the full BPTT derivative
dL/dh_t, the quantity the fast trace computes by hand.
"""

from __future__ import annotations

import torch


def cell(mode: str, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step, written from torch.nn's documented equations. Returns h, c, gates."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if mode == "LSTM":
        i, f, g, o = (gi + gh).chunk(4)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        return o * c.tanh(), c, {"i": i, "f": f, "g": g, "o": o}
    if mode == "GRU":
        ir, iz, in_ = gi.chunk(3)
        hr, hz, hn = gh.chunk(3)
        r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        return (1 - z) * n + z * h, None, {"r": r, "z": z, "n": n}
    pre = gi + gh
    return (pre.tanh() if mode == "RNN_TANH" else pre.relu()), None, {"preact": pre}


def run(core: torch.nn.RNNBase, x: torch.Tensor, h0=None, c0=None):
    """Step a torch.nn core by hand. Returns a dict of per-(layer*D+d) lists over time."""
    directions = 2 if core.bidirectional else 1
    hidden, steps = core.hidden_size, x.shape[0]
    n = core.num_layers * directions
    h0 = torch.zeros(n, hidden, dtype=x.dtype) if h0 is None else h0
    c0 = torch.zeros(n, hidden, dtype=x.dtype) if c0 is None else c0
    rec = {"h": {}, "c": {}, "gates": {}, "probes": {}, "h_n": [], "c_n": []}
    layer_in = [x[t] for t in range(steps)]
    for layer in range(core.num_layers):
        outs = [[None] * directions for _ in range(steps)]
        for d in range(directions):
            k = layer * directions + d
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [getattr(core, f"{p}{sfx}") for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[k], c0[k]
            order = range(steps - 1, -1, -1) if d else range(steps)
            hs, cs, gs, ps = {}, {}, {}, {}
            for t in order:
                h, c, gates = cell(core.mode, layer_in[t], h, c, *w)
                probe = torch.zeros_like(h, requires_grad=True)
                h = h + probe
                hs[t], cs[t], gs[t], ps[t] = h, c, gates, probe
                outs[t][d] = h
            rec["h_n"].append(h)
            rec["c_n"].append(c)
            rec["h"][k] = [hs[t] for t in range(steps)]
            rec["c"][k] = [cs[t] for t in range(steps)]
            rec["gates"][k] = [gs[t] for t in range(steps)]
            rec["probes"][k] = [ps[t] for t in range(steps)]
        layer_in = [torch.cat(o) for o in outs]
    rec["out"] = torch.stack(layer_in)
    rec["h_n"] = torch.stack(rec["h_n"])
    rec["c_n"] = torch.stack(rec["c_n"]) if core.mode == "LSTM" else None
    return rec


def probe_grad_norms(rec) -> torch.Tensor:
    """[T, L*D] ||dL/dh_t|| read off the probes after loss.backward()."""
    keys = sorted(rec["probes"])
    return torch.stack(
        [torch.stack([p.grad.norm() for p in rec["probes"][k]]) for k in keys], dim=1
    )
