"""The design plot: a Pillow PNG of named series, one colour each, that never divides by zero."""
from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from pgen.batching.design_plot import COLOURS, design_plot


def decode(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    img.load()
    return img.convert("RGB")


def count(img: Image.Image, colour: tuple, box: tuple | None = None) -> int:
    """Pixels of exactly `colour`, in `box` (left, top, right, bottom) or everywhere."""
    part = np.asarray(img.crop(box) if box else img)
    return int(np.all(part == np.array(colour, dtype=np.uint8), axis=-1).sum())


def test_two_series_draw_in_their_own_colours_below_the_legend():
    series = {"network output": [math.sin(i / 5) for i in range(31)],
              "target": [0.9 * math.sin(i / 5 + 0.2) for i in range(31)]}
    img = decode(design_plot(series, title="gray_ramp seed 3", xlabel="index", width=480, height=300))
    assert img.size == (480, 300)
    plot_area = (0, 100, 480, 300)   # the legend's swatches sit in the top rows
    assert count(img, COLOURS[0], plot_area) > 200 and count(img, COLOURS[1], plot_area) > 200
    assert count(img, (0, 0, 0)) > 500   # axes, ticks, text


def test_a_one_point_series_gets_a_marker_and_a_constant_series_a_flat_line():
    img = decode(design_plot({"one": [5.0], "flat": [2.0] * 12}, width=320, height=200))
    assert img.size == (320, 200)
    plot_area = (0, 40, 320, 200)
    assert count(img, COLOURS[0], plot_area) >= 20   # the marker of the single value
    ys, xs = np.nonzero(np.all(np.asarray(img)[40:] == np.array(COLOURS[1], dtype=np.uint8), axis=-1))
    assert len(xs) > 200 and xs.max() - xs.min() > 200
    assert np.ptp(ys[(xs > 100) & (xs < 200)]) <= 7   # one horizontal line (and its markers)


def test_all_values_equal_and_no_series_at_all_still_draw():
    for series in ({"c": [3.0, 3.0, 3.0]}, {"zero": [0.0] * 5}, {"a": [1e9, 1e9]}, {}, {"empty": []}):
        img = decode(design_plot(series, title="t", width=200, height=150))
        assert img.size == (200, 150)
    img = decode(design_plot({"c": [3.0, 3.0, 3.0]}, width=200, height=150))
    assert count(img, COLOURS[0], (0, 50, 200, 150)) > 50


def test_many_series_cycle_colours_and_wrap_the_legend():
    series = {f"series {k}": [k + 0.1 * i for i in range(10)] for k in range(12)}
    img = decode(design_plot(series, width=300, height=400))
    assert img.size == (300, 400)
    for c in COLOURS:
        assert count(img, c) > 0
