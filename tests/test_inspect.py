"""rnn-tui inspect: what if (the memory horizon), the recurrent spectrum, the unit that does X.

Each figure is checked against a recomputation that shares no code with rnn-tui:
numpy's eigenvalues, a plain torch.nn module loaded from the checkpoint, the depth
counted from a trace's tokens, a recurrence whose decay is known by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnn_tui.cli import main
from rnn_tui.core.experiments import horizon, memory_horizon
from rnn_tui.core import rules
from rnn_tui.core.rules import compile_rule
from rnn_tui.core.trace_file import Trace
from tests.test_cli import in_tmp, run  # noqa: F401 - in_tmp keeps run folders out of the checkout


def _train(tmp_path_factory, name: str, *options: str):
    path = tmp_path_factory.mktemp(name) / f"{name}.pt"
    assert main(["train", *options, "--save", str(path), "--no-run-folder", "--device", "cpu"]) == 0
    return path


@pytest.fixture(scope="module")
def adding(tmp_path_factory):
    """Briefly trained adding models (T = 20), one per architecture: arch -> checkpoint."""
    return {arch: _train(tmp_path_factory, f"adding-{arch}", "--scenario", "adding", "--seq-len", "20",
                         "--hidden", "16", "--steps", "30", "--arch", arch) for arch in ("lstm", "rnn")}


@pytest.fixture(scope="module")
def brackets(tmp_path_factory):
    """The brackets scenario's LSTM after 300 steps (~3 s): it counts by then."""
    return _train(tmp_path_factory, "brackets", "--scenario", "brackets", "--steps", "300")


def inspect(capsys, *argv: str):
    code, out, err = run(["inspect", *argv, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def trace(capsys, tmp_path, checkpoint, sample: int) -> Trace:
    out = tmp_path / f"trace-{sample}.npz"
    assert run(["trace", "--checkpoint", str(checkpoint), "--sample", str(sample), "--out", str(out)], capsys)[0] == 0
    return Trace.load(out)


# ---------------------------------------------------------------- spectrum


def numpy_spectrum(w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    eigenvalues = np.linalg.eigvals(w)
    return np.abs(eigenvalues).max(), np.sort_complex(eigenvalues), np.linalg.svd(w, compute_uv=False)


def assert_spectrum(entry: dict, w: np.ndarray) -> None:
    radius, eigenvalues, singular = numpy_spectrum(w)
    assert entry["spectral_radius"] == pytest.approx(radius, rel=1e-4)
    ours = np.sort_complex(np.array([complex(re, im) for re, im in entry["eigenvalues"]]))
    np.testing.assert_allclose(ours, eigenvalues, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(entry["singular_values"], singular, rtol=1e-4)


@pytest.mark.parametrize("arch", ["lstm", "rnn"])
def test_spectrum_of_a_checkpoint_matches_numpy(adding, arch, capsys):
    [entry] = inspect(capsys, "spectrum", "--checkpoint", str(adding[arch]))
    w = torch.load(adding[arch], weights_only=True)["core"]["weight_hh_l0"].double().numpy()
    assert (entry["layer"], entry["direction"]) == (0, 0)
    if arch == "rnn":
        assert_spectrum(entry, w)
        assert "gates" not in entry
        return
    hidden = w.shape[1]
    assert list(entry["gates"]) == ["i", "f", "g", "o"]  # torch.nn's row order
    for k, gate in enumerate("ifgo"):
        assert_spectrum(entry["gates"][gate], w[k * hidden:(k + 1) * hidden])
    # The entry's own figures are its strongest gate block's.
    radii = {gate: numpy_spectrum(w[k * hidden:(k + 1) * hidden])[0] for k, gate in enumerate("ifgo")}
    assert entry["gate"] == max(radii, key=radii.get)
    assert entry["spectral_radius"] == pytest.approx(max(radii.values()), rel=1e-4)


def test_spectrum_of_a_bare_core_covers_every_layer_and_direction(tmp_path, capsys):
    gru = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True)
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    entries = inspect(capsys, "spectrum", "--weights", str(tmp_path / "gru.pt"))
    assert [(e["layer"], e["direction"]) for e in entries] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for e in entries:
        w = getattr(gru, f"weight_hh_l{e['layer']}" + ("_reverse" if e["direction"] else "")).detach().double().numpy()
        assert list(e["gates"]) == ["r", "z", "n"]
        for k, gate in enumerate("rzn"):
            assert_spectrum(e["gates"][gate], w[k * 5:(k + 1) * 5])


# ---------------------------------------------------------------- what if


@pytest.mark.parametrize("arch", ["lstm", "rnn"])
def test_delta_h_of_a_value_change_matches_plain_torch(adding, arch, capsys, tmp_path):
    result = inspect(capsys, "horizon", "--checkpoint", str(adding[arch]), "--sample", "2", "--step", "4",
                     "--delta", "0.5")
    x = torch.tensor(trace(capsys, tmp_path, adding[arch], 2).inputs, dtype=torch.float64)[None]
    changed = x.clone()
    changed[0, 4, 0] += 0.5  # feature 0 is the value; feature 1 the marker
    payload = torch.load(adding[arch], weights_only=True)
    hidden = payload["core"]["weight_hh_l0"].shape[1]
    core = {"lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[arch](2, hidden, batch_first=True).double()
    core.load_state_dict(payload["core"])
    head = torch.nn.Linear(hidden, 1).double()
    head.load_state_dict(payload["head"])
    with torch.no_grad():
        h, h2 = core(x)[0][0], core(changed)[0][0]
        delta_h = (h2 - h).norm(dim=-1)[4:]
        delta_out = (head(h2) - head(h)).abs()[4:, 0]  # the prediction were the sequence to end there
    assert result["step"] == 4 and result["perturbation"].startswith("input ")
    assert result["delta_h"] == pytest.approx(delta_h.tolist(), rel=1e-4)
    assert result["delta_output"] == pytest.approx(delta_out.tolist(), rel=1e-4, abs=1e-12)
    below = [k for k, v in enumerate(delta_h) if v < 0.01 * delta_h[0]]
    assert result["horizon"] == (below[0] if below else None)


def halving_rnn(hidden: int = 4) -> torch.nn.RNN:
    """h_t = relu(x_t + 0.5 h_{t-1}): with x >= 0 it is linear, so a change halves every step."""
    rnn = torch.nn.RNN(1, hidden, bias=False, nonlinearity="relu")
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(0.5 * torch.eye(hidden))
        rnn.weight_ih_l0.fill_(1.0)
    return rnn


def test_memory_horizon_where_the_decay_is_known():
    rnn, x = halving_rnn(), torch.ones(20, 1)
    result = horizon(rnn, x, 3, delta=1.0)
    assert result["delta_h"] == pytest.approx([2 * 0.5**k for k in range(17)], rel=1e-12)  # ||(1,1,1,1)|| = 2
    assert result["delta_output"] == result["delta_h"]  # a bare core's output is its h
    assert result["horizon"] == 7  # 0.5**6 = 1.6% of the first change, 0.5**7 = 0.8%
    assert horizon(rnn, x[:10], 3, value=3.0)["horizon"] is None  # steps 3..9 end at 1.6%: beyond the sequence
    assert memory_horizon([0.0, 0.0]) == 0  # the change never reached h
    assert memory_horizon([1.0, 0.01, 0.0099]) == 2  # strictly below 1%


def test_horizon_of_a_bare_core_through_the_cli(tmp_path, capsys):
    torch.save(halving_rnn().state_dict(), tmp_path / "rnn.pt")
    np.save(tmp_path / "x.npy", np.ones((12, 1)))
    argv = ["inspect", "horizon", "--weights", str(tmp_path / "rnn.pt"), "--input", str(tmp_path / "x.npy"),
            "--nonlinearity", "relu", "--step", "2", "--delta", "1"]
    code, out, _ = run(argv + ["--json"], capsys)
    assert code == 0 and json.loads(out)["horizon"] == 7
    code, out, _ = run(argv[:-4] + ["--step", "6", "--delta", "1"], capsys)  # steps 6..11: 6 halvings
    assert code == 0 and "input 1 -> 2 (+1) at step 6" in out and "memory horizon: beyond the sequence" in out


def test_horizon_of_token_models(capsys):
    sentence = inspect(capsys, "horizon", "--scenario", "sentiment", "--bidirectional", "--input-text",
                       "the movie was not good", "--step", "3", "--token", "never")
    assert sentence["perturbation"] == "token 'not' -> 'never'"
    assert len(sentence["delta_h"]) == 2 and sentence["delta_h"][0] > 0
    assert sentence["delta_output"][0] is None and sentence["delta_output"][1] >= 0  # it speaks at the end only
    reverse = inspect(capsys, "horizon", "--scenario", "reverse", "--step", "2", "--token", "A")
    assert len(reverse["delta_h"]) == 2 * 12 - 2  # the encoder's steps, then the decoder's
    assert all(v is None for v in reverse["delta_output"][:10]) and reverse["delta_output"][10] is not None


# ---------------------------------------------------------------- units


def test_the_depth_unit_of_a_trained_brackets_model(brackets, capsys, tmp_path):
    ranking = inspect(capsys, "units", "--checkpoint", str(brackets), "--rule", "depth")
    assert len(ranking) == 32 and set(ranking[0]) == {"layer", "direction", "unit", "corr"}
    strengths = [abs(u["corr"]) for u in ranking if u["corr"] is not None]
    assert strengths == sorted(strengths, reverse=True)
    best = ranking[0]
    h, depth = [], []
    for sample in range(5):
        tr = trace(capsys, tmp_path, brackets, sample)
        steps = np.array([{"(": 1, ")": -1}.get(tr.vocab[t], 0) for t in tr.tokens])
        assert np.array_equal(np.cumsum(steps), tr.targets)  # the depth is what the scenario asks for
        depth.append(np.cumsum(steps))
        h.append(tr.h[:, best["layer"] * tr.directions + best["direction"], best["unit"]])
    corr = np.corrcoef(np.concatenate(h), np.concatenate(depth))[0, 1]
    assert abs(corr) >= 0.8 and np.sign(corr) == np.sign(best["corr"])
    written_out = inspect(capsys, "units", "--checkpoint", str(brackets), "--rule", "count('(') - count(')')")
    assert written_out == ranking


def test_rules_count_what_their_words_say():
    vocab = ["(", ")", "a", " ", "\n", '"']
    text = '(( a\n"a")'
    x = np.array([[vocab.index(c) for c in text]])
    expect = {
        "depth": [1, 2, 2, 2, 2, 2, 2, 2, 1],
        "position": list(range(9)),
        "is('a', ' ')": [0, 0, 1, 1, 0, 0, 1, 0, 0],
        "after_space": [0, 0, 0, 1, 0, 0, 0, 0, 0],
        "line_position": [1, 2, 3, 4, 0, 1, 2, 3, 4],
        "in_quotes": [0, 0, 0, 0, 0, 1, 1, 0, 0],
        "seen('\\n') * -2 + sum(is('a'))": [0, 0, 0, 1, -1, -1, 0, 0, 0],
    }
    for rule, values in expect.items():
        assert compile_rule(rule, vocab).values(x)[0].tolist() == values, rule
    words = ["<pad>", "not", "never", "hardly", "good"]
    assert compile_rule("negation", words).values(np.array([[0, 4, 2, 4]]))[0].tolist() == [0, 0, 1, 1]
    numbers = np.array([[[0.5, 0.0], [0.25, 1.0], [0.75, 0.0], [0.125, 1.0]]])  # adding's value, marker
    assert compile_rule("marked", features=2).values(numbers)[0].tolist() == [0, 0.25, 0.25, 0.375]
    for name, expression in rules.BUILTIN.items():  # the docstring (and --help) lists them as they are
        assert f"{name:<15}{expression}" in rules.__doc__


def test_units_over_one_typed_sequence_and_a_summary(capsys):
    code, out, _ = run(["inspect", "units", "--scenario", "brackets", "--input-text", "((a)(()))", "--rule",
                        "is('(')"], capsys)
    assert code == 0 and out.splitlines()[0].startswith("rule is('('): the 10 of 32 units")
    code, out, _ = run(["inspect", "spectrum", "--scenario", "brackets"], capsys)
    assert code == 0 and out.startswith("layer 0 forward: spectral radius ") and "(gate " in out


# ---------------------------------------------------------------- bad input


BRACKETS = ["--scenario", "brackets"]  # token inputs, T = 40, 1000 validation samples
ADDING = ["--scenario", "adding", "--seq-len", "10"]  # number inputs: value, marker


@pytest.mark.parametrize("model, argv, says", [
    (BRACKETS, ["units", "--rule", "cnt('(')"], "unknown function 'cnt'; expected one of position, is, count"),
    (BRACKETS, ["units", "--rule", "count('('"], "found the end; expected ')' after the arguments of count"),
    (BRACKETS, ["units", "--rule", "count('x')"], "'x' is not a token of this model; expected one of its 5 tokens"),
    (BRACKETS, ["units", "--rule", "__import__('os').system('true')"], "unknown function '__import__'"),
    (BRACKETS, ["units", "--rule", "feature(0)"], "feature() reads numbers, and this model reads tokens"),
    (BRACKETS, ["units", "--rule", "count('\"')"], "'\"' is not a token"),
    (BRACKETS, ["units", "--rule", "1 +"], "found the end; expected a number, a function or '('"),
    (BRACKETS, ["units", "--rule", "is('a') 'b'"], "expected an operator (+ - *) or the end of the rule"),
    (BRACKETS, ["units", "--rule", "is('a)"], "an unclosed quote at character 4"),
    (BRACKETS, ["units", "--rule", ""], "empty; expected a built-in rule (depth, position"),
    (BRACKETS, ["units"], "units needs --rule R"),
    (BRACKETS, ["units", "--rule", "position * 0"], "is 0 at every step of these samples"),
    (BRACKETS, ["horizon", "--step", "40"], "--step 40: the sequence has steps 0 to 39"),
    (BRACKETS, ["horizon", "--step", "-1"], "argument --step: expected a whole number >= 0, got -1"),
    (BRACKETS, ["horizon", "--token", "z"], "--token 'z': not a token of this model; expected one of its 5 tokens"),
    (BRACKETS, ["horizon", "--delta", "1"], "this model reads tokens: give the token to put in"),
    (BRACKETS, ["horizon", "--step", "0", "--token", "("], "step 0 already holds '('; expected another token"),
    (BRACKETS, ["horizon", "--token", "a", "--delta", "1"], "not allowed with argument"),
    (BRACKETS, ["horizon", "--sample", "5000", "--token", "a"],
     "--sample 5000: the validation split has samples 0 to 999"),
    (ADDING, ["horizon", "--token", "a"], "this model reads numbers: give either a change (--delta D) or a value"),
    (ADDING, ["horizon", "--delta", "nan"], "argument --delta: expected a finite number"),
    (ADDING, ["horizon", "--delta", "1", "--feature", "2"], "feature 2: expected a feature from 0 to 1"),
    (ADDING, ["units", "--rule", "is('a')"], "is() reads tokens, and this model reads numbers"),
    (ADDING, ["units", "--rule", "feature(2)"], "feature(2) does not exist; expected a whole index from 0 to 1"),
    (ADDING, ["horizon", "--input-text", "abc", "--delta", "1"], "--input-text: this scenario reads numbers"),
    (ADDING, ["horizon", "--input", "x.npy", "--delta", "1"], "--input goes with --weights"),
])
def test_bad_input_is_one_line_and_exit_2(model, argv, says, capsys):
    code, out, err = run(["inspect", argv[0], *model, *argv[1:]], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and says in err, err
