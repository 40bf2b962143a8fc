"""A small line plot of a design task's vectors (network output against target, say), drawn
with Pillow so that a batch needs no plotting library: one polyline per named series over its
index, a legend above the axes, the y range's min and max and the first and last index.
"""
from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (140, 86, 75), (227, 119, 194), (23, 190, 207)]
LEFT, RIGHT, BOTTOM, ROW = 58, 14, 34, 14   # margins in pixels; ROW: one title or legend line


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _legend_rows(names: list, width: int, draw: ImageDraw.ImageDraw, font) -> list:
    """Wrap the legend entries into rows that fit the width: [[(name, x), ...], ...]."""
    rows, row, x = [], [], LEFT
    for name in names:
        w = 16 + draw.textlength(name, font=font) + 14
        if row and x + w > width - RIGHT:
            rows.append(row)
            row, x = [], LEFT
        row.append((name, x))
        x += w
    return rows + [row] if row else rows


def design_plot(series: dict, title: str = "", xlabel: str = "", width: int = 480,
                height: int = 300) -> bytes:
    """A PNG of one polyline per named series (values over their index), with a legend."""
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    names = list(series)
    colour = {n: COLOURS[k % len(COLOURS)] for k, n in enumerate(names)}
    legend = _legend_rows(names, width, d, font)
    top = 6 + ROW * (1 + len(legend)) + 6
    x0, x1, y0, y1 = LEFT, width - RIGHT, top, height - BOTTOM
    values = [float(v) for n in names for v in series[n]]
    n_max = max([len(series[n]) for n in names] + [0])
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    flat = hi - lo < 1e-12 * max(1.0, abs(lo), abs(hi))
    pad = 0.5 * max(abs(lo), 1.0) if flat else 0.06 * (hi - lo)   # a constant sits in the middle
    vlo, vhi = lo - pad, hi + pad

    def px(i: float, v: float) -> tuple:
        x = (x0 + x1) / 2 if n_max <= 1 else x0 + 6 + (x1 - x0 - 12) * i / (n_max - 1)
        return x, y1 - (y1 - y0) * (v - vlo) / (vhi - vlo)

    d.text((x0, 6), title, fill="black", font=font)
    for r, row in enumerate(legend):
        y = 6 + ROW * (r + 1)
        for name, x in row:
            d.rectangle([x, y + 2, x + 10, y + 8], fill=colour[name])
            d.text((x + 16, y), name, fill="black", font=font)
    d.rectangle([x0, y0, x1, y1], outline="black")
    for v in ([lo] if flat else [lo, hi]):   # y ticks: the data's min and max
        y = px(0, v)[1]
        d.line([x0 - 4, y, x0, y], fill="black")
        label = _fmt(v)
        d.text((x0 - 6 - d.textlength(label, font=font), y - 6), label, fill="black", font=font)
    for i in sorted({0, max(n_max - 1, 0)}):   # x ticks: the first and last index
        x = px(i, lo)[0]
        d.line([x, y1, x, y1 + 4], fill="black")
        d.text((x - d.textlength(str(i), font=font) / 2, y1 + 6), str(i), fill="black", font=font)
    if xlabel:
        d.text(((x0 + x1 - d.textlength(xlabel, font=font)) / 2, height - ROW - 2), xlabel,
               fill="black", font=font)
    if not values:
        d.text(((x0 + x1) / 2 - 20, (y0 + y1) / 2 - 6), "no data", fill="gray", font=font)
    for name in names:
        points = [px(i, float(v)) for i, v in enumerate(series[name])]
        if len(points) > 1:
            d.line(points, fill=colour[name], width=2, joint="curve")
        if 0 < len(points) <= 2 or (len(points) <= 40 and len(points) * 6 < x1 - x0):
            for x, y in points:   # a marker per point where they do not crowd (always for one)
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour[name])
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # speed over bytes: one per batch task
    return buf.getvalue()
