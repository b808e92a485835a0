"""The model: input encoder -> recurrent core -> task head.

The recurrent core *is* a `torch.nn.RNN`, `LSTM` or `GRU` (batch_first). That is
the point: training runs torch's fused kernels, the inspector (`core.trace`)
reads the very same tensors, and a core's state_dict is interchangeable with any
torch.nn module of the same shape (`weight_ih_l{k}`, `weight_hh_l{k}`,
`bias_ih_l{k}`, `bias_hh_l{k}`, `_reverse`; LSTM gates i,f,g,o; GRU r,z,n).

An Echo State Network is an Elman RNN whose weights are drawn once and frozen:
the recurrent matrix is rescaled to a chosen spectral radius (below 1 its echo of
old inputs fades), and only the readout (the head) learns. Any other core may start
with its W_hh rescaled likewise (`init_radius`; above 1, gradients explode) and train.
"""

from __future__ import annotations

import torch
from torch import nn

from rnn_tui.core.config import ModelConfig
from rnn_tui.core.kinds import MANY_TO_ONE
from rnn_tui.errors import UserError

# Tasks whose targets lie in the input's future: a backward direction would read them.
CAUSAL_TASKS = ("next_token", "forecast", "seq2seq")


def make_core(config: ModelConfig, input_size: int) -> nn.RNNBase:
    common = dict(
        input_size=input_size,
        hidden_size=config.hidden,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        batch_first=True,
        dropout=config.dropout if config.layers > 1 else 0.0,
    )
    if config.arch == "lstm":
        return nn.LSTM(**common)
    if config.arch == "gru":
        return nn.GRU(**common)
    return nn.RNN(nonlinearity=config.nonlinearity, **common)


def init_reservoir(core: nn.RNN, spectral_radius: float, input_scale: float, gen: torch.Generator):
    """Draw a fixed echo-state reservoir and freeze it."""
    with torch.no_grad():
        for name, param in core.named_parameters():
            if name.startswith("weight_hh"):
                w = torch.randn(param.shape, generator=gen, dtype=torch.float64)
                radius = torch.linalg.eigvals(w).abs().max()
                param.copy_(w * (spectral_radius / radius))
            elif name.startswith("weight_ih"):
                param.uniform_(-input_scale, input_scale, generator=gen)
            else:  # a small bias breaks the symmetry around h = 0
                param.uniform_(-0.1, 0.1, generator=gen)
            param.requires_grad_(False)


def scale_recurrent(core: nn.RNNBase, radius: float) -> None:
    """Rescale each layer's W_hh, gate block by gate block (H x H each), to spectral radius
    `radius`: above 1 the gradient tends to grow as it travels back (explodes)."""
    with torch.no_grad():
        for name, param in core.named_parameters():
            if name.startswith("weight_hh"):
                for block in param.split(param.shape[1]):  # views: lstm i,f,g,o; gru r,z,n; rnn one
                    block.mul_(radius / torch.linalg.eigvals(block.double()).abs().max().item())


class SequenceModel(nn.Module):
    """Encoder (embedding for tokens, identity for vectors) + core + linear head."""

    def __init__(
        self,
        config: ModelConfig,
        task: str,
        input_size: int,
        output_size: int,
        tokens_in: bool,
        seed: int = 0,
    ):
        super().__init__()
        if config.bidirectional and task in CAUSAL_TASKS:
            raise UserError(
                f"--bidirectional: a {task} task predicts what comes later in the sequence, "
                "which a backward direction would already have read; expected a unidirectional model"
            )
        self.config = config
        self.task = task
        self.tokens_in = tokens_in
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = nn.Embedding(input_size, config.embed) if tokens_in else nn.Identity()
            core_in = config.embed if tokens_in else input_size
            self.core = make_core(config, core_in)
            # seq2seq: a second core of the same shape, started from the encoder's final state.
            self.decoder = make_core(config, core_in) if task == "seq2seq" else None
            directions = 2 if config.bidirectional else 1
            self.head = nn.Linear(directions * config.hidden, output_size)
        if config.arch == "esn":
            for core in (self.core, self.decoder):
                if core is not None:
                    init_reservoir(core, config.spectral_radius, config.input_scale, gen)
            if tokens_in:
                self.encoder.weight.requires_grad_(False)
        elif config.init_radius > 0:
            for core in (self.core, self.decoder):
                if core is not None:
                    scale_recurrent(core, config.init_radius)

    @property
    def directions(self) -> int:
        return 2 if self.config.bidirectional else 1

    def features(self, out: torch.Tensor) -> torch.Tensor:
        """What a many-to-one head reads: the last step of each direction."""
        if self.directions == 1:
            return out[:, -1]
        hidden = self.config.hidden
        return torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=-1)

    def forward(self, x: torch.Tensor, dec_in: torch.Tensor | None = None) -> torch.Tensor:
        """Batched training forward: [B, T, O] per-step outputs, or [B, O] for many-to-one."""
        out, state = self.core(self.encoder(x))
        if self.task == "seq2seq":
            out, _ = self.decoder(self.encoder(dec_in), state)
        if self.task in MANY_TO_ONE:
            out = self.features(out)
        y = self.head(out)
        return y.squeeze(-1) if self.task in ("forecast", "regress") else y


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
