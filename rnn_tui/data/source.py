"""Where a run's data comes from, as a plain dict a checkpoint can carry.

A built-in name, a scenario file, `--text FILE` or `--csv FILE --column C`,
plus data overrides such as `--seq-len`. `load()` turns it back into the same
Scenario, so `rnn-tui trace --checkpoint F` needs no other option.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rnn_tui.data import scenario as scenarios
from rnn_tui.errors import UserError, shown


@dataclass(frozen=True)
class Source:
    scenario: str = "text"  # a built-in name or a .toml path
    text: str | None = None
    csv: str | None = None
    column: str | None = None
    fill_missing: str | None = None
    data: dict = field(default_factory=dict)  # overrides of the scenario's [data] table

    def load(self) -> scenarios.Scenario:
        if self.text and self.csv:
            raise UserError("--text and --csv: choose one data file, not both")
        if self.csv and not self.column:
            raise UserError(f"--csv {self.csv}: needs --column NAME, the column to forecast")
        if self.column and not self.csv:
            raise UserError("--column: only applies with --csv FILE")
        if "max_vocab" in self.data and self.csv:
            raise UserError("--max-vocab: a CSV series has numbers, not a vocabulary; expected it with --text FILE "
                            "or a text scenario")
        if self.text:  # the overrides first: a short file may fit a shorter --seq-len
            return scenarios.text_scenario(Path(self.text), overrides=self.data)
        if self.csv:
            return scenarios.csv_scenario(Path(self.csv), self.column, self.fill_missing, overrides=self.data)
        found = scenarios.load_scenario(self.scenario)
        if "max_vocab" in self.data and found.data["generator"] != "text":
            raise UserError(f"--max-vocab: scenario {found.name} reads {found.data['generator']} data, not text; "
                            "expected a text scenario or --text FILE")
        return found.with_data(**self.data) if self.data else found

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("text", "csv"):  # absolute paths: a checkpoint may be read from elsewhere
            if out[key]:
                out[key] = str(Path(out[key]).resolve())
        if out["scenario"].endswith(".toml"):
            out["scenario"] = str(Path(out["scenario"]).resolve())
        return out

    @classmethod
    def from_dict(cls, values: dict, where: str = "source") -> "Source":
        """From a checkpoint's metadata: each field's type checked, unknown ones ignored."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        for key, value in known.items():
            expected = _TYPES[key]
            if not isinstance(value, expected):
                raise UserError(f"{where}.{key} is {shown(value)}; expected {_TYPE_WORDS[expected]}")
        return cls(**known)


_TYPES = {"scenario": str, "text": (str, type(None)), "csv": (str, type(None)), "column": (str, type(None)),
          "fill_missing": (str, type(None)), "data": dict}
_TYPE_WORDS = {str: "a string", (str, type(None)): "a string or nothing", dict: "a table"}
