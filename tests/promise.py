"""The promise every input is held to, checked one way by test_hardening and test_fuzz.

Exit status 0, or 2 with one line on stderr; never an exception out of `main` (a
traceback, for a person), never a warning printed before the line, nothing written
on failure, and no temp file of ours left behind.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from rnn_tui.cli import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    warned: list[str]  # warnings that would have been printed on stderr

    @property
    def lines(self) -> list[str]:
        return self.err.strip().splitlines()


def call(argv: list[str]) -> Outcome:
    """`rnn-tui ARGV` in this process: exit status, stdout, stderr and warnings."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own checks exit directly
            code = exit_.code
    return Outcome(code, out.getvalue(), err.getvalue(), [str(w.message) for w in caught])


def temp_files(folder: Path) -> list[Path]:
    """Hidden temp files of an atomic write (.NAME.XXXXXXXX.tmp) anywhere below `folder`."""
    return sorted(Path(folder).rglob(".*.tmp"))


def check_kept(result: Outcome, written: Path | None = None, folder: Path | None = None) -> None:
    """The promise: 0, or 2 with one line and `written` absent; no warning; no temp file in `folder`."""
    assert result.code in (0, 2), f"exit {result.code}: {result.err[-2000:]}"
    assert "Traceback" not in result.err, result.err
    assert not result.warned, f"warnings printed: {result.warned}"
    if result.code == 2:
        assert len(result.lines) == 1, f"{len(result.lines)} lines on stderr: {result.err!r}"
        assert written is None or not written.exists(), f"{written} written on failure: {result.lines[0]}"
    if folder is not None:
        assert not temp_files(folder), temp_files(folder)


def refused(result: Outcome, *mentions: str, written: Path | None = None) -> str:
    """Exit 2, one line naming each of `mentions`, nothing written; the line."""
    check_kept(result, written)
    assert result.code == 2, f"exit {result.code}, expected 2; stderr {result.err!r}"
    for word in mentions:
        assert word in result.lines[0], f"{word!r} not in {result.lines[0]!r}"
    return result.lines[0]
