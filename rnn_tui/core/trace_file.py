"""A Trace: what one sequence did inside the network, as plain numpy, and its .npz file.

No torch here: the app's process reads traces and draws them without ever loading
torch. A trace describes itself: its tokens' vocabulary, its class names and where
it came from (`meta`: scenario, arch, the weights' step, the sample) travel with it,
so a trace can be drawn, exported and read back without the data it was made from.

Arrays (T steps, L layers, D directions, H units; index l*D + d as in torch's h_n):

    h        [T, L*D, H]   hidden state after step t (a backward direction's after reading x_t)
    c        [T, L*D, H]   LSTM cell state
    gate_*   [T, L*D, H]   each gate's activation (lstm i f g o, gru r z n); "preact" for rnn
    outputs  [T, O]        probabilities, or the predicted value
    loss     [T]           per-step loss, NaN where a step is not scored
    grad_h   [T, L*D]      ||dL/dh_t||, full BPTT
    grad_x   [T]           ||dL/dx_t|| (for tokens, of the token's embedding)
    grad_h_last [T, L*D]   ||dl_s/dh_t||: the gradient of one step's loss alone, l_s = loss[s]
                           at the last scored step s in each direction's own reading order
                           (a backward direction's is the first scored step in time): how far
                           back the last prediction's gradient reaches. Where one step is
                           scored (many-to-one, a bare core), l_s is L and this is grad_h.
                           NaN where no step is scored. Optional: older files lack it.

Every norm is taken in float64, after scaling each vector by a power of two near its
largest entry: the squares of float32 entries below ~1e-19 would underflow to 0.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np

from rnn_tui.core.files import write_atomically
from rnn_tui.errors import UserError


@dataclass(eq=False)  # compared by identity: a new trace is a new picture
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
    # Provenance, JSON-able: scenario, arch, step (of the weights), sample, run.
    meta: dict = field(default_factory=dict)
    grad_h_last: np.ndarray | None = None  # [T, L*D] ||dl_s/dh_t|| for the last scored step s, float64

    @property
    def steps(self) -> int:
        return int(self.h.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays under their documented `.npz` names."""
        out = {"h": self.h, "outputs": self.outputs, "loss": self.loss, "grad_h": self.grad_h,
               "grad_x": self.grad_x, "total_loss": np.float64(self.total_loss),
               "arch": np.array(self.arch), "kind": np.array(self.kind),
               "shape": np.array([self.layers, self.directions, self.hidden], dtype=np.int64),
               "meta": np.array(json.dumps(self.meta, default=str))}
        if self.c is not None:
            out["c"] = self.c
        for name, value in self.gates.items():
            out[name if name == "preact" else f"gate_{name}"] = value
        if self.tokens is not None:
            out["tokens"] = self.tokens
        if self.vocab is not None:
            out["vocab"] = np.array(self.vocab, dtype=str)
        if self.inputs is not None:
            out["inputs"] = self.inputs
        if self.targets is not None:
            out["targets"] = self.targets
        if self.class_names is not None:
            out["class_names"] = np.array(self.class_names, dtype=str)
        if self.decoder_start is not None:
            out["decoder_start"] = np.int64(self.decoder_start)
        if self.grad_h_last is not None:
            out["grad_h_last"] = self.grad_h_last
        return out

    def save(self, path) -> None:
        """Written whole or not at all; OSError when it cannot be."""
        buffer = io.BytesIO()  # np.savez would append ".npz" to a path without it
        np.savez_compressed(buffer, **self.arrays())
        write_atomically(path, buffer.getvalue())

    @classmethod
    def load(cls, path) -> "Trace":
        """A trace written by `save` (rnn-tui trace, or e in the app)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                a = {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            raise UserError(f"trace {path}: not a readable .npz file ({err}); expected one written by "
                            "rnn-tui trace or e in the app") from None
        missing = [k for k in ("h", "outputs", "loss", "grad_h", "grad_x", "arch", "kind", "shape") if k not in a]
        if missing:
            raise UserError(f"trace {path}: no {', '.join(missing)}; expected a file written by rnn-tui trace")
        layers, directions, hidden = (int(v) for v in a["shape"])
        gates = {k.removeprefix("gate_"): v for k, v in a.items() if k.startswith("gate_") or k == "preact"}
        optional = {k: a.get(k) for k in ("c", "inputs", "tokens", "targets", "grad_h_last")}
        return cls(
            arch=str(a["arch"]), kind=str(a["kind"]), layers=layers, directions=directions, hidden=hidden,
            h=a["h"], gates=gates, outputs=a["outputs"], loss=a["loss"], total_loss=float(a["total_loss"]),
            grad_h=a["grad_h"], grad_x=a["grad_x"], **optional,
            vocab=[str(v) for v in a["vocab"]] if "vocab" in a else None,
            class_names=[str(v) for v in a["class_names"]] if "class_names" in a else None,
            decoder_start=int(a["decoder_start"]) if "decoder_start" in a else None,
            meta=json.loads(str(a["meta"])) if "meta" in a else {},
        )
