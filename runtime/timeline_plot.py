"""`pgenc solve --plot FILE.png`: the best incumbent and the best proved bound over time
(seed 002 Fig. 7: the neural adjoint's incumbent and the MILP's bound closing the gap),
drawn with Pillow so that no plotting library is needed on the solve path.

The timeline is the portfolio's (`result.stats["timeline"]`): entries {"t", "member",
"incumbent" | "bound"}. Both curves are steps of the best value so far (lowest incumbent
and highest bound for a minimisation; the other way round for a maximisation); each
incumbent point is marked with its member's colour.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75)]
W, H, LEFT, RIGHT, TOP, BOTTOM = 900, 520, 90, 200, 40, 60


def best_so_far(timeline: list, key: str, minimise: bool) -> list:
    """[(t, value)] of the running best of `key` ("incumbent" or "bound")."""
    better_incumbent = min if minimise else max
    better_bound = max if minimise else min
    pick = better_incumbent if key == "incumbent" else better_bound
    out, best = [], None
    for e in sorted((e for e in timeline if key in e and e[key] is not None), key=lambda e: e["t"]):
        best = e[key] if best is None else pick(best, e[key])
        out.append((e["t"], best))
    return out


def draw(timeline: list, path: str | Path, minimise: bool = True, title: str = "", wall: float | None = None) -> Path:
    from ..core.files import atomic_write_bytes
    import io

    inc = best_so_far(timeline, "incumbent", minimise)
    bnd = best_so_far(timeline, "bound", minimise)
    t_end = max([wall or 0.0] + [e["t"] for e in timeline]) or 1.0
    values = [v for _, v in inc + bnd]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * max(abs(lo), 1e-3), hi + 0.5 * max(abs(hi), 1e-3)
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    x0, x1, y0, y1 = LEFT, W - RIGHT, TOP, H - BOTTOM

    def px(t, v):
        return x0 + (x1 - x0) * t / t_end, y1 - (y1 - y0) * (v - lo) / (hi - lo)

    d.rectangle([x0, y0, x1, y1], outline="black")
    for k in range(6):   # ticks
        t = t_end * k / 5
        v = lo + (hi - lo) * k / 5
        d.line([px(t, lo)[0], y1, px(t, lo)[0], y1 + 5], fill="black")
        d.text((px(t, lo)[0] - 12, y1 + 8), f"{t:.3g}", fill="black", font=font)
        d.line([x0 - 5, px(0, v)[1], x0, px(0, v)[1]], fill="black")
        d.text((8, px(0, v)[1] - 6), f"{v:.4g}", fill="black", font=font)
    d.text(((x0 + x1) / 2 - 30, H - 25), "seconds", fill="black", font=font)
    d.text((x0, 12), title or "incumbent and bound over time", fill="black", font=font)

    def steps(points, colour, width):
        if not points:
            return
        line = []
        for (t, v), nxt in zip(points, points[1:] + [(t_end, points[-1][1])]):
            line += [px(t, v), px(nxt[0], v)]
        d.line(line, fill=colour, width=width)

    steps(inc, (20, 20, 20), 3)
    steps(bnd, (120, 120, 120), 2)
    for e in timeline:   # bound points as small squares: a single one has no line
        if "bound" in e and e["bound"] is not None:
            x, y = px(e["t"], e["bound"])
            d.rectangle([x - 3, y - 3, x + 3, y + 3], fill=(120, 120, 120))
    members = sorted({e["member"] for e in timeline if "incumbent" in e})
    for e in timeline:
        if "incumbent" in e and e["incumbent"] is not None:
            x, y = px(e["t"], e["incumbent"])
            c = COLOURS[members.index(e["member"]) % len(COLOURS)]
            d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=c)
    legend = [("best incumbent", (20, 20, 20)), ("best proved bound", (120, 120, 120))]
    legend += [(f"incumbent: {m}", COLOURS[k % len(COLOURS)]) for k, m in enumerate(members)]
    for k, (label, c) in enumerate(legend):
        y = y0 + 10 + 18 * k
        d.rectangle([x1 + 12, y, x1 + 24, y + 10], fill=c)
        d.text((x1 + 30, y - 1), label, fill="black", font=font)
    if inc and bnd:
        gap = abs(inc[-1][1] - bnd[-1][1])
        d.text((x1 + 12, y0 + 20 + 18 * len(legend)), f"final gap: {gap:.4g}", fill="black", font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
