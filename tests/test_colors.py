"""The colour scales and the half-block cells every heatmap-like panel is drawn with."""

from __future__ import annotations

import numpy as np

from rnn_tui.ui import colors


def test_levels_cover_the_range_and_tolerate_nan():
    levels = colors.diverging_levels(np.array([-5.0, -1.0, 0.0, np.nan, 1.0, 7.0]))
    assert levels.tolist() == [0, 0, colors.LEVELS // 2, colors.LEVELS // 2, colors.LEVELS - 1, colors.LEVELS - 1]
    assert colors.sequential_levels(np.array([0.0, 0.5, 1.0])).tolist() == [0, colors.LEVELS // 2, colors.LEVELS - 1]


def test_half_blocks_merge_equal_cells_and_keep_every_value():
    scale = colors.diverging(True)
    top = np.array([3, 3, 3, 5, 5, 7])
    bottom = np.array([1, 1, 2, 2, 2])  # one shorter: an odd number of units
    segments = colors.half_blocks(top, bottom, scale, zoom=2)
    assert [s.text for s in segments] == ["▀" * 4, "▀" * 2, "▀" * 4, "▀" * 2]
    assert [(s.style.color, s.style.bgcolor) for s in segments] == [
        (scale[3], scale[1]), (scale[3], scale[2]), (scale[5], scale[2]), (scale[7], None)]


def test_scales_are_distinct_and_light_theme_changes_only_the_neutral():
    dark, light = colors.diverging(True), colors.diverging(False)
    assert len(set(dark)) == colors.LEVELS
    assert dark[0] == light[0] and dark[-1] == light[-1]
    assert dark[colors.LEVELS // 2] != light[colors.LEVELS // 2]
