"""Where a run's data comes from, as a plain dict a checkpoint can carry.

A built-in name, a scenario file, `--text FILE` or `--csv FILE --column C`,
plus data overrides such as `--seq-len`. `load()` turns it back into the same
Scenario, so `rnn-tui trace --checkpoint F` needs no other option.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from rnn_tui.data import scenario as scenarios
from rnn_tui.errors import UserError


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
        if self.text:
            found = scenarios.text_scenario(Path(self.text))
        elif self.csv:
            found = scenarios.csv_scenario(Path(self.csv), self.column, self.fill_missing)
        else:
            found = scenarios.load_scenario(self.scenario)
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
    def from_dict(cls, values: dict) -> "Source":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)
