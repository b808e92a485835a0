"""The trace is exactly what torch computes: states, gates and BPTT gradients."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnn_tui.core import tasks
from rnn_tui.core.config import ModelConfig
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace_file import Trace
from rnn_tui.core.trace import trace_core, trace_sequence
from tests import reference

MODES = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
SHAPES = [(1, False), (2, False), (1, True), (2, True), (3, True)]


def make_core(arch, nonlinearity, layers, bidirectional, dtype, seed=0, input_size=5, hidden=7):
    torch.manual_seed(seed)
    kwargs = dict(num_layers=layers, bidirectional=bidirectional)
    if arch == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[arch]
    core = cls(input_size, hidden, **kwargs).to(dtype)
    with torch.no_grad():  # larger weights than torch's default: saturated gates, big gradients
        for p in core.parameters():
            p.mul_(2.0)
    return core


@pytest.mark.parametrize("mode,shape", itertools.product(MODES, SHAPES))
def test_states_match_torch_nn_float32(mode, shape):
    arch, nonlinearity = mode
    layers, bidirectional = shape
    core = make_core(arch, nonlinearity, layers, bidirectional, torch.float32)
    x = torch.randn(30, 5)
    tr = trace_core(core, x)
    d = 2 if bidirectional else 1
    for layer in range(layers):
        # torch.nn with the first layer+1 layers gives layer `layer`'s outputs
        sub = make_core(arch, nonlinearity, layer + 1, bidirectional, torch.float32)
        sub.load_state_dict({k: v for k, v in core.state_dict().items() if int(k.split("_l")[1][0]) <= layer})
        out, final = sub(x)
        ours = tr.h[:, layer * d : (layer + 1) * d].reshape(30, -1)
        assert np.abs(ours - out.detach().numpy()).max() <= 1e-5
        if arch == "lstm" and (layer == 0 or not bidirectional):
            # c_t of the forward direction is c_n of the prefix x[:t+1]
            for t in (0, 13, 29):
                _, (_, c_n) = sub(x[: t + 1])
                assert np.abs(tr.c[t, layer * d] - c_n[layer * d].detach().numpy()).max() <= 1e-5
                if bidirectional:  # ...and of the backward direction, the suffix x[t:]
                    _, (_, c_n) = sub(x[t:])
                    assert np.abs(tr.c[t, layer * d + 1] - c_n[layer * d + 1].detach().numpy()).max() <= 1e-5


@pytest.mark.parametrize("mode,shape", itertools.product(MODES, SHAPES))
def test_gates_and_gradients_match_stepwise_autograd(mode, shape):
    arch, nonlinearity = mode
    layers, bidirectional = shape
    core = make_core(arch, nonlinearity, layers, bidirectional, torch.float64)
    x = torch.randn(25, 5, dtype=torch.float64, requires_grad=True)
    tr = trace_core(core, x.detach())

    rec = reference.run(core, x)
    d = 2 if bidirectional else 1
    last = rec["h_n"][(layers - 1) * d :]
    loss = 0.5 * (last**2).sum()
    loss.backward()

    assert tr.total_loss == pytest.approx(loss.item(), rel=1e-12)
    for k, steps in rec["gates"].items():
        for name in steps[0]:
            ref = torch.stack([g[name] for g in steps]).detach().numpy()
            key = name if name == "preact" else name
            np.testing.assert_allclose(tr.gates[key][:, k], ref, rtol=1e-9, atol=1e-10)
        if arch == "lstm":
            ref_c = torch.stack(rec["c"][k]).detach().numpy()
            np.testing.assert_allclose(tr.c[:, k], ref_c, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(tr.grad_h, reference.probe_grad_norms(rec).numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(tr.grad_x, x.grad.norm(dim=-1).numpy(), rtol=1e-8, atol=1e-12)


def test_gradients_float32_agree_with_float64_autograd():
    core = make_core("lstm", "tanh", 2, False, torch.float32, hidden=32)
    x = torch.randn(200, 5)
    tr = trace_core(core, x)
    core64 = make_core("lstm", "tanh", 2, False, torch.float64, hidden=32)
    core64.load_state_dict({k: v.double() for k, v in core.state_dict().items()})
    rec = reference.run(core64, x.double())
    (0.5 * (rec["h_n"][-1:] ** 2).sum()).backward()
    np.testing.assert_allclose(tr.grad_h, reference.probe_grad_norms(rec).numpy(), rtol=2e-3, atol=1e-7)


TASKS = [
    ("next_token", True), ("tag", True), ("classify", True), ("classify", False),
    ("forecast", False), ("regress", False), ("seq2seq", True),
]


def make_model(kind, tokens_in, arch="lstm", layers=2, bidirectional=False, nonlinearity="tanh"):
    config = ModelConfig(arch=arch, hidden=6, layers=layers, bidirectional=bidirectional,
                         nonlinearity=nonlinearity, embed=4)
    output = 1 if kind in ("forecast", "regress") else 5
    model = SequenceModel(config, kind, input_size=9 if tokens_in else 3, output_size=output,
                          tokens_in=tokens_in, seed=3).double()
    return model


def sample(kind, tokens_in, steps=11):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 9, (steps,), generator=g) if tokens_in else torch.randn(steps, 3, generator=g, dtype=torch.float64)
    if kind in ("next_token", "tag", "seq2seq"):
        y = torch.randint(0, 5, (steps,), generator=g)
        if kind == "tag":
            y[:3] = -100  # unscored steps
    elif kind == "classify":
        y = torch.tensor(2)
    elif kind == "forecast":
        y = torch.randn(steps, generator=g, dtype=torch.float64)
    else:
        y = torch.tensor(0.7, dtype=torch.float64)
    dec_in = torch.randint(0, 9, (7,), generator=g) if kind == "seq2seq" else None
    if kind == "seq2seq":
        y = y[:7]
    return x, y, dec_in


@pytest.mark.parametrize("kind,tokens_in", TASKS)
@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn", "esn"])
def test_model_trace_matches_autograd(kind, tokens_in, arch):
    bidirectional = kind in ("classify", "tag", "regress")
    model = make_model(kind, tokens_in, arch=arch, bidirectional=bidirectional)
    x, y, dec_in = sample(kind, tokens_in)
    tr = trace_sequence(model, x, y, dec_in)

    # Reference: step by step with probes, the model's own head and loss.
    emb = model.encoder(x).detach().double().requires_grad_(True)
    enc = reference.run(model.core, emb)
    rec = enc
    if kind == "seq2seq":
        dec_emb = model.encoder(dec_in).detach().double().requires_grad_(True)
        rec = reference.run(model.decoder, dec_emb, enc["h_n"], enc["c_n"])
    out = rec["out"][None]
    pred = model(x[None], None if dec_in is None else dec_in[None])  # the batched training path
    if kind in ("classify", "regress"):
        ref_pred = model.head(model.features(out))
        ref_pred = ref_pred.squeeze(-1) if kind == "regress" else ref_pred
    else:
        ref_pred = model.head(out)
        ref_pred = ref_pred.squeeze(-1) if kind == "forecast" else ref_pred
    torch.testing.assert_close(ref_pred, pred)
    loss = tasks.batch_loss(kind, ref_pred, y[None])
    loss.backward()

    assert tr.total_loss == pytest.approx(loss.item(), rel=1e-10)
    grads = reference.probe_grad_norms(enc).numpy()
    d_x = emb.grad.norm(dim=-1).numpy()
    if kind == "seq2seq":
        grads = np.concatenate([grads, reference.probe_grad_norms(rec).numpy()])
        d_x = np.concatenate([d_x, dec_emb.grad.norm(dim=-1).numpy()])
        assert tr.decoder_start == len(x)
    np.testing.assert_allclose(tr.grad_h, grads, rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(tr.grad_x, d_x, rtol=1e-8, atol=1e-13)
    scored = ~np.isnan(tr.loss)
    assert np.nansum(tr.loss) / scored.sum() == pytest.approx(loss.item(), rel=1e-9) or kind in ("classify", "regress")
    if kind in ("next_token", "tag", "classify") and not bidirectional:
        np.testing.assert_allclose(tr.outputs.sum(-1), 1.0, rtol=1e-9)


def test_npz_keys_and_the_file_reads_back_as_the_same_trace(tmp_path):
    model = make_model("next_token", True)
    x, y, _ = sample("next_token", True)
    tr = trace_sequence(model, x, y)
    tr.vocab = [chr(97 + i) for i in range(model.encoder.num_embeddings)]
    tr.meta = {"scenario": "made-up", "arch": "lstm", "step": 3, "sample": 0}
    tr.save(tmp_path / "t.npz")
    data = np.load(tmp_path / "t.npz")
    for key in ("tokens", "vocab", "h", "c", "gate_i", "gate_f", "gate_g", "gate_o", "outputs", "loss", "grad_h",
                "grad_x", "meta"):
        assert key in data.files
    assert data["h"].shape == (11, 2, 6) and data["grad_h"].shape == (11, 2) and data["grad_x"].shape == (11,)
    back = Trace.load(tmp_path / "t.npz")
    assert (back.arch, back.kind, back.layers, back.directions, back.hidden) == ("lstm", "next_token", 2, 1, 6)
    assert back.vocab == tr.vocab and back.meta == tr.meta and set(back.gates) == set(tr.gates)
    for name in ("h", "c", "outputs", "grad_h", "grad_x", "tokens"):
        np.testing.assert_array_equal(getattr(back, name), getattr(tr, name))


def test_esn_trains_only_the_readout():
    model = make_model("forecast", False, arch="esn")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}
    w = model.core.weight_hh_l0.detach()
    assert float(torch.linalg.eigvals(w).abs().max()) == pytest.approx(0.9, rel=1e-4)
