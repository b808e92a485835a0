"""What a long session must not keep: widgets the screen has discarded."""

from __future__ import annotations

import gc

from textual.widgets._footer import FooterKey

from tests.test_app import make_app, settle


async def test_the_footer_lets_its_old_keys_go():
    """Each time the main screen comes back (here from help) the footer recomposes its keys;
    the old ones once stayed alive for good, bound to the footer (bench_soak found it)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        for key in ["question_mark", "escape"] * 5:
            await pilot.press(key)
            await pilot.pause()
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, FooterKey)]
        shown = list(app.screen.query(FooterKey))
        assert len(shown) > 5
        assert len(alive) == len(shown)  # it was 188 for 18 shown
