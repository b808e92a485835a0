"""The palette takes typed values and marks the setting in force."""

from __future__ import annotations

from rnn_tui.training import protocol as p
from rnn_tui.ui.commands import entries, typed
from tests.test_app import make_app, settle


async def test_typed_values_and_the_current_setting():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.view.snap is not None)
        screen = app.main
        title, run, _ = typed(screen, "lr 0.05")
        assert title == "Learning rate: 0.05"
        run()
        assert app.client.sent[-1] == p.Set({"lr": 0.05})
        typed(screen, "clip=5")[1]()
        assert app.client.sent[-1] == p.Set({"clip": 5.0})
        typed(screen, "hidden 100")[1]()
        assert app.client.sent[-1] == p.Switch(model={"hidden": 100})
        refused = typed(screen, "lr -1")
        assert "expected a learning rate above 0" in refused[0]
        refused[1]()
        assert app.client.sent[-1] == p.Switch(model={"hidden": 100})  # nothing sent
        assert typed(screen, "dance 3") is None
        await settle(app, pilot, until=lambda a: a.view.snap.train["lr"] == 0.05)
        titles = [t for t, _, _ in entries(screen)]
        assert "Gradient clipping: norm 5 (now)" in titles and "Optimizer: adam (now)" in titles
        assert not any(t.startswith("Learning rate") and "(now)" in t for t in titles)  # 0.05 is no preset
