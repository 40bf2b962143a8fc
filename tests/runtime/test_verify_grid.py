"""The grid verifier on hand-made images (one broken rule each) and the brute-force oracle
against hand counts and an independent pure-Python enumeration of connected sets."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pgen.compiler.grid.rules import GrainRule, GridRules
from pgen.runtime.verify_grid import check_grid, enclosed_void, labels_from_image
from tests.grid_oracle import valid_images


def picture(text: str) -> np.ndarray:
    """Labels from a drawing: '.' void, digit k grain k - 1 (label k)."""
    rows = [line.strip() for line in text.strip().splitlines()]
    return np.array([[0 if ch == "." else int(ch) for ch in row] for row in rows])


def rules_for(labels_or_size, seeds, dag="manhattan", s=None, area=None, order=None, **kw) -> GridRules:
    size = labels_or_size if isinstance(labels_or_size, int) else len(labels_or_size)
    areas = area if isinstance(area, list) else [area] * len(seeds)
    grains = tuple(GrainRule(seed, dag, order, s, a) for seed, a in zip(seeds, areas))
    return GridRules((size, size), grains, **kw)


def problems(text, seeds, **kw) -> list[str]:
    labels = picture(text)
    return check_grid((labels > 0).astype(int), labels, rules_for(labels, seeds, **kw))


TWO = """
.......
.11....
.11....
.......
....22.
....2..
.......
"""
TWO_SEEDS = [(1, 1), (4, 4)]


# ---- check_grid: one rule at a time ---------------------------------------------------

def test_valid_image_passes():
    assert problems(TWO, TWO_SEEDS) == []
    assert problems(TWO, TWO_SEEDS, gap=1, area=[(4, 4), (1, 3)], void_cells=(42, 42)) == []


def test_labels_must_agree_with_the_image():
    labels = picture(TWO)
    image = (labels > 0).astype(int)
    image[3, 3] = 1
    assert check_grid(image, labels, rules_for(labels, TWO_SEEDS)) == [
        "labels and image disagree at (3, 3): image solid, label 0"]


def test_labels_in_range_and_shapes():
    labels = picture(TWO)
    rules = rules_for(labels, TWO_SEEDS)
    bad = labels.copy()
    bad[4, 4] = 3
    assert check_grid(bad > 0, bad, rules) == ["label 3 at (4, 4) is outside 0..2 (2 grains)"]
    assert check_grid(labels[:6] > 0, labels, rules) == ["image has shape (6, 7), expected (7, 7)"]
    image = (labels > 0).astype(int)
    image[0, 0] = 2
    assert check_grid(image, labels, rules) == ["image holds 2 at (0, 0); only 0 (void) and 1 (solid)"]


def test_grain_must_be_one_component_holding_its_seed():
    found = problems(".....\n.1.1.\n.....\n.....\n.....", [(1, 1)])
    assert "grain 0: 2 4-connected components, a grain is one" in found
    found = problems(".....\n..1..\n..1..\n.....\n.....", [(1, 1)])
    assert found[0] == "grain 0: its seed (1, 1) is not in it"


def test_grains_never_share_a_side():
    assert problems(".......\n.1122..\n.......\n" + ".......\n" * 4, [(1, 1), (1, 4)]) == [
        "grains 0 and 1 share a side at (1, 2) and (1, 3)"]


def test_gap_counts_chebyshev_distance():
    diagonal = ".......\n.1.....\n.1.....\n..22...\n" + ".......\n" * 3
    assert problems(diagonal, [(1, 1), (3, 3)]) == []
    assert problems(diagonal, [(1, 1), (3, 3)], gap=1) == [
        "grains 0 and 1 within Chebyshev distance 1 (gap 1) at (2, 1) and (3, 2)"]
    assert problems(TWO, TWO_SEEDS, gap=2) == [
        "grains 0 and 1 within Chebyshev distance 2 (gap 2) at (2, 2) and (4, 4)"]


TOP = "...1...\n...1...\n" + ".......\n" * 5      # a grain reaching the first row
BOTTOM = ".......\n" * 5 + "...1...\n...1...\n"   # ... and the last row


def test_border_all_last_none():
    assert problems(TOP, [(1, 3)]) == ["cell (0, 3) is solid but the border must be void (border all)"]
    assert problems(TOP, [(1, 3)], border="last") == []
    assert problems(TOP, [(1, 3)], border="none") == []
    assert problems(BOTTOM, [(5, 3)], border="last") == [
        "cell (6, 3) is solid but the border must be void (border last)"]
    assert problems(BOTTOM, [(5, 3)], border="none") == []


RING = """
.......
.......
..111..
..1.1..
..111..
.......
.......
"""


def test_holes_none_dag_allowed():
    assert problems(RING, [(2, 2)]) == ["void component of 1 cells at (3, 3) is enclosed (no holes)"]
    assert problems(RING, [(2, 2)], holes="allowed") == []
    assert problems(RING, [(2, 2)], holes="dag") == [
        "void cell (3, 3) has no void 4-neighbour one step closer to the boundary (holes dag)"]


def test_holes_dag_is_stricter_than_none():
    # (2, 2) reaches the border through (2, 3), but both its steps towards the border are solid
    corner = ".......\n.11....\n.1.....\n" + ".......\n" * 4
    assert problems(corner, [(1, 1)]) == []
    assert problems(corner, [(1, 1)], holes="dag") == [
        "void cell (2, 2) has no void 4-neighbour one step closer to the boundary (holes dag)"]


def test_holes_follow_the_boundary_set():
    cup = "..1.1..\n..111..\n" + ".......\n" * 5     # (0, 3) is walled in against the top side
    assert problems(cup, [(1, 3)], border="none") == []
    assert problems(cup, [(1, 3)], border="last") == [
        "void component of 1 cells at (0, 3) is enclosed (no holes)"]
    assert [m.sum() for m in enclosed_void(picture(cup) > 0, rules_for(7, [(1, 3)], border="last"))] == [1]


COLUMN_FIRST = ".......\n.......\n...11..\n...1...\n" + ".......\n" * 3   # (2, 4) hangs off (2, 3)
ROW_FIRST = ".......\n.......\n....1..\n...11..\n" + ".......\n" * 3      # (2, 4) hangs off (3, 4)


def test_rows_and_columns_dags():
    assert problems(COLUMN_FIRST, [(3, 3)], dag="rows") == []
    assert problems(COLUMN_FIRST, [(3, 3)], dag="columns") == [
        "grain 0: cell (2, 4) has no parent in its DAG (columns)"]
    assert problems(ROW_FIRST, [(3, 3)], dag="columns") == []
    assert problems(ROW_FIRST, [(3, 3)], dag="rows") == ["grain 0: cell (2, 4) has no parent in its DAG (rows)"]
    assert problems(COLUMN_FIRST, [(3, 3)]) == problems(ROW_FIRST, [(3, 3)]) == []
    # a detached pair on the seed's column: (1, 3) has a neighbour in the grain, but not its parent
    floating = ".......\n...11..\n.......\n...1...\n" + ".......\n" * 3
    assert "grain 0: cell (1, 3) has no parent in its DAG (rows)" in problems(floating, [(3, 3)], dag="rows")


def test_manhattan_dag():
    u_shape = ".......\n...111.\n...1.1.\n...1...\n" + ".......\n" * 3
    assert problems(u_shape, [(3, 3)]) == [
        "grain 0: cell (2, 5) has no parent in its DAG (manhattan)"]


# a random growth order on 5x5 from (2, 2): the parents of (3, 3) are only (2, 3)
ORDER = np.array([[20, 21, 22, 23, 24],
                  [19, 4, 3, 8, 18],
                  [17, 5, 0, 1, 16],
                  [15, 6, 7, 2, 14],
                  [13, 12, 11, 10, 9]])


def test_random_dag():
    l_shape = ".....\n.....\n..1..\n..11.\n....."
    assert problems(l_shape, [(2, 2)]) == []
    assert problems(l_shape, [(2, 2)], dag="random", order=ORDER) == [
        "grain 0: cell (3, 3) has no parent in its DAG (random)"]
    assert problems(".....\n.....\n..11.\n...1.\n.....", [(2, 2)], dag="random", order=ORDER) == []
    with pytest.raises(ValueError, match="random DAG needs an order"):
        problems(l_shape, [(2, 2)], dag="random")


def _arm(length: int) -> str:
    """A straight arm of `length` cells right of the seed (5, 5) on 11x11."""
    rows = ["." * 11] * 11
    rows[5] = "....." + "1" * (length + 1) + "." * (5 - length)
    return "\n".join(rows)


@pytest.mark.parametrize("s", [1, 2, 3])
def test_compactness(s):
    assert problems(_arm(s), [(5, 5)], s=s) == []
    assert problems(_arm(s + 1), [(5, 5)], s=s) == [
        f"grain 0: cell (5, {6 + s}) of ring {s + 1} is in the grain but ring 1 is not full "
        f"(compactness s = {s}): (4, 4) is not"]


def test_compactness_full_ring_allows_the_next():
    rows = ["." * 11] * 11
    rows[4] = rows[6] = "....111...."
    rows[5] = "....1111..."                   # rings 0 and 1 full, one cell of ring 2
    assert problems("\n".join(rows), [(5, 5)], s=1) == []


def test_area_void_cells_mask():
    assert problems(TWO, TWO_SEEDS, area=[None, (4, 10)]) == ["grain 1: area 3 cells, allowed 4..10"]
    assert problems(TWO, TWO_SEEDS, area=[(1, 3), None]) == ["grain 0: area 4 cells, allowed 1..3"]
    assert problems(TWO, TWO_SEEDS, void_cells=(43, 49)) == ["porosity: 42 void cells, allowed 43..49"]
    mask = np.full((7, 7), -1, dtype=np.int8)
    mask[1, 1] = mask[0, 0] = 1
    mask[3, 3] = mask[5, 4] = 0
    assert problems(TWO, TWO_SEEDS, mask=mask) == [
        "mask fixes (0, 0) solid but it is void", "mask fixes (5, 4) void but it is solid"]


# ---- labels_from_image, enclosed_void -------------------------------------------------

def test_labels_from_image():
    labels = picture(TWO)
    rules = rules_for(labels, TWO_SEEDS)
    assert np.array_equal(labels_from_image(labels > 0, rules), labels)
    assert np.array_equal(labels_from_image(labels > 0, rules_for(labels, TWO_SEEDS[::-1])), (3 - labels) % 3)
    extra = (labels > 0).astype(int)
    extra[5, 1] = 1                                            # a component without a seed
    assert labels_from_image(extra, rules) is None
    assert labels_from_image(labels > 0, rules_for(labels, [(1, 1), (2, 2)])) is None   # one component, two seeds
    assert labels_from_image(labels > 0, rules_for(labels, [(1, 1), (3, 3)])) is None   # a void seed


def test_enclosed_void_masks():
    holes = enclosed_void(picture(RING) > 0, rules_for(7, [(2, 2)]))
    assert len(holes) == 1 and np.argwhere(holes[0]).tolist() == [[3, 3]]
    assert enclosed_void(picture(TWO) > 0, rules_for(7, TWO_SEEDS)) == []


# ---- the oracle -------------------------------------------------------------------------

def _boundary(size, border):
    last = size - 1
    if border == "last":
        return {(i, j) for i in range(size) for j in range(size) if i == last or j == last}
    return {(i, j) for i in range(size) for j in range(size) if i in (0, last) or j in (0, last)}


def _parents(cell, grain):
    (i, j), (si, sj) = cell, grain.seed
    sign = lambda d: (d > 0) - (d < 0)
    near = [(i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)]
    if grain.dag == "manhattan":
        dist = lambda c: abs(c[0] - si) + abs(c[1] - sj)
        return [c for c in near if dist(c) == dist(cell) - 1]
    if grain.dag == "random":
        n = len(grain.order)
        return [c for c in near if 0 <= min(c) and max(c) < n and grain.order[c] < grain.order[cell]]
    along_row = (i, j - sign(j - sj))
    along_column = (i - sign(i - si), j)
    if grain.dag == "rows":
        return [along_row] if j != sj else [along_column]
    return [along_column] if i != si else [along_row]


def _connected_sets(seed, allowed):
    """Every 4-connected subset of `allowed` holding `seed`, grown one neighbour at a time."""
    if seed not in allowed:
        return []
    seen, todo = {frozenset([seed])}, [frozenset([seed])]
    while todo:
        cells = todo.pop()
        for i, j in cells:
            for c in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                if c in allowed and c not in cells and cells | {c} not in seen:
                    seen.add(cells | {c})
                    todo.append(cells | {c})
    return list(seen)


def _grain_ok(cells, grain, size):
    if any(c != grain.seed and not any(p in cells for p in _parents(c, grain)) for c in cells):
        return False
    if grain.area and not grain.area[0] <= len(cells) <= grain.area[1]:
        return False
    if grain.s is not None:
        ring = {(i, j): round(math.hypot(i - grain.seed[0], j - grain.seed[1]))
                for i in range(size) for j in range(size)}
        for c in cells:
            if ring[c] >= grain.s and any(ring[p] == ring[c] - grain.s and p not in cells for p in ring):
                return False
    return True


def _reference(rules: GridRules) -> set[bytes]:
    """The valid images of `rules`, from the rules' wording: connected sets per grain."""
    size, gap = rules.shape[0], rules.gap
    everything = {(i, j) for i in range(size) for j in range(size)}
    boundary = _boundary(size, rules.border)
    forced = set() if rules.border == "none" else boundary
    fixed = {c: int(rules.mask[c]) for c in everything if rules.mask is not None and rules.mask[c] >= 0}
    allowed = {c for c in everything - forced if fixed.get(c) != 0}
    choices = [[g_cells for g_cells in _connected_sets(g.seed, allowed) if _grain_ok(g_cells, g, size)]
               for g in rules.grains]
    found = set()
    for grains in itertools.product(*choices):
        if any(abs(a[0] - b[0]) + abs(a[1] - b[1]) <= 1 or max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= gap
               for x, y in itertools.combinations(grains, 2) for a in x for b in y):
            continue
        solid = set().union(*grains)
        void = everything - solid
        if any(v == 1 and c not in solid for c, v in fixed.items()):
            continue
        if rules.void_cells and not rules.void_cells[0] <= len(void) <= rules.void_cells[1]:
            continue
        if rules.holes == "none":                 # flood the void from the boundary set
            reached, todo = set(), list(void & boundary)
            while todo:
                i, j = todo.pop()
                if (i, j) in reached:
                    continue
                reached.add((i, j))
                todo += [c for c in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)) if c in void]
            if reached != void:
                continue
        if rules.holes == "dag":
            depth = {c: min(abs(c[0] - b[0]) + abs(c[1] - b[1]) for b in boundary) for c in everything}
            if any(not any(n in void and depth[n] == depth[(i, j)] - 1
                           for n in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)))
                   for (i, j) in void - boundary):
                continue
        image = np.zeros((size, size), dtype=np.uint8)
        for c in solid:
            image[c] = 1
        found.add(image.tobytes())
    return found


@pytest.mark.parametrize("dag, count", [("manhattan", 161), ("rows", 100), ("columns", 100), ("random", None)])
def test_oracle_one_centred_grain(dag, count):
    # manhattan by hand: 1 + 4*4 + 4*8 + 2*16 + 4*16 + 16 (edge cells chosen, then the corners they reach);
    # rows: each column cell absent or present with any of its 2 leaves (5 ways), row cells 2 ways
    rules = rules_for(5, [(2, 2)], dag=dag, order=ORDER if dag == "random" else None)
    images = valid_images(rules)
    assert images == _reference(rules)
    assert count is None or len(images) == count
    assert images == valid_images(rules, prefilter=False)


def test_oracle_compact_grain_by_hand():
    # s = 1 on 6x6 from (2, 2): any of the 161 sets inside rings 0..1, or the full 3x3 block plus
    # any of the 6 ring-2 cells inside the border (ring 2 is never full, so no ring-3 cell)
    rules = rules_for(6, [(2, 2)], s=1)
    images = valid_images(rules)
    assert len(images) == 161 - 1 + 64
    assert images == _reference(rules)


@pytest.mark.parametrize("holes", ["none", "allowed"])
def test_oracle_holes_and_compactness_against_reference(holes):
    # 8 cells suffice to wall in a void cell of the 4x4 interior
    rules = rules_for(6, [(2, 2)], s=2, area=(1, 8), holes=holes)
    images = valid_images(rules)
    assert images == _reference(rules)
    assert len(images) == {"none": 1479, "allowed": 1486}[holes]


@pytest.mark.parametrize("gap", [0, 1])
def test_oracle_two_grains(gap):
    rules = rules_for(6, [(1, 1), (4, 3)], area=[(1, 4), (1, 3)], gap=gap)
    images = valid_images(rules)
    assert images and images == _reference(rules)


def test_oracle_border_last_mask_porosity():
    mask = np.full((5, 5), -1, dtype=np.int8)
    mask[0, 0], mask[2, 2] = 1, 0
    rules = rules_for(5, [(1, 1)], border="last", mask=mask, void_cells=(17, 21), holes="dag")
    images = valid_images(rules)
    assert images and images == _reference(rules)
    assert images == valid_images(rules, prefilter=False)
