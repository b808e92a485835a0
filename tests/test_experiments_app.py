"""The experiments in the app: your own input, what if, the spectrum, the unit search.
Every figure shown is the trainer's answer, checked against core.experiments here."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tui.core.experiments import horizon, spectrum
from rnn_tui.training import protocol as p
from rnn_tui.ui.experiment_screen import ExperimentScreen
from tests.test_app import make_app, settle


def answered(name):
    return lambda a: isinstance(a.screen, ExperimentScreen) and name in a.view.results \
        and a.screen.results


async def test_typed_brackets_are_traced_and_unknown_tokens_named():
    app = make_app("--scenario", "brackets", "--hidden", "8")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        await pilot.press("ctrl+a", *"(()(a))", "enter")  # replaces the example
        await settle(app, pilot, until=lambda a: a.main.trace is not None and a.main.trace.meta.get("input"))
        trace = app.main.trace
        assert trace.meta["input"].endswith("(()(a))")
        assert "your input" in str(app.main.status.render())
        await pilot.press("i", "ctrl+a", *"(z)", "enter")
        await settle(app, pilot, until=lambda a: any("'z'" in n.message for n in a._notifications))
        await pilot.press("n")  # back to the validation samples
        await settle(app, pilot, until=lambda a: a.main.trace.meta.get("sample") == 0)


async def test_what_if_shows_the_trainers_horizon():
    app = make_app("--scenario", "adding", "--seq-len", "12", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")  # paused: the weights stay as asked
        await pilot.press("right", "right", "w")
        await pilot.press("enter")  # +0.5 at step 3
        await settle(app, pilot, until=answered("horizon"))
        result = app.view.results["horizon"]["main"].result
        run = app.client.group.runs["main"]
        x = run.trainer.data.val.x[0]
        expected = horizon(run.inspector(), x, 2, delta=0.5)
        np.testing.assert_allclose(result["delta_h"], expected["delta_h"], rtol=1e-9)
        shown = str(app.screen.query_one("#answer").render())
        assert "memory horizon" in shown and "+0.5" in result["perturbation"]


async def test_spectrum_and_unit_search():
    app = make_app("--scenario", "brackets", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("t", "x")
        await settle(app, pilot, until=answered("spectrum"))
        got = app.view.results["spectrum"]["main"].result
        want = spectrum(app.client.group.runs["main"].inspector())
        assert got[0]["spectral_radius"] == pytest.approx(want[0]["spectral_radius"])
        shown = str(app.screen.query_one("#answer").render())
        assert f"radius {want[0]['spectral_radius']:.3f}" in shown and "|λ| = 1" in shown
        await pilot.press("escape", "u", "enter")  # the suggested rule: depth
        await settle(app, pilot, until=answered("units"))
        best = app.view.results["units"]["main"].result[0]
        await pilot.press("enter")  # select the best unit
        await pilot.pause()
        assert app.main.unit == best["unit"]


async def test_experiments_are_refused_in_one_line_where_they_cannot_run():
    app = make_app("--scenario", "brackets", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.view.send(p.Experiment("horizon", {"step": 0, "token": "nope"}))
        await settle(app, pilot, until=lambda a: "horizon" in a.view.results)
        assert "not a token of this model" in app.view.results["horizon"]["main"].error


async def test_compare_mode_lists_the_three_horizons_side_by_side():
    app = make_app("--scenario", "adding", "--seq-len", "12", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot, until=lambda a: a.view.compare and len(a.view.info) == 3 and a.main.trace is not None)
        await pilot.press("w", "enter")
        await settle(app, pilot, until=lambda a: len(a.view.results.get("horizon", {})) == 3
                     and isinstance(a.screen, ExperimentScreen) and a.screen.results)
        await pilot.pause()
        shown = str(app.screen.query_one("#answer").render())
        for arch, r in app.view.results["horizon"].items():
            k = r.result["horizon"]
            assert f"{arch:<5} {'beyond the sequence' if k is None else f'{k} steps'}" in shown
