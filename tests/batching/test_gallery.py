"""The gallery page: the index's rows embedded as JSON, cards drawn by inline JS (checked in a
headless Chromium when one is installed), filters and sort read from the URL, text escaped."""
from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from pgen.batching.gallery import write_gallery
from pgen.batching.index import RunIndex
from pgen.core.errors import PgenError

INJECTION = 'solver crashed: <script>alert(1)</script> & <img src=x onerror="document.body.dataset.pwned=1">'
MISSING = "tasks/d2_70_80-s1/0001.png"   # named in the index, never written: shown as missing


def tiny_png(path: Path, colour: tuple) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 6), colour).save(path)


@pytest.fixture
def run_folder(tmp_path) -> Path:
    """A run folder with porous-like rows (images), a design row (plot, design), a failed row
    whose message tries HTML injection, and an unknown row whose image is missing."""
    out = tmp_path / "runs"
    index = RunIndex(out)
    index.claim("hash0", "plan.toml", "0.0-test")
    base = dict(spec="specs/porous/d2_60_70.pgen", spec_hash="abc", options={"seed": 1}, attempts=1,
                worker="local-1", finished="2025-01-01T00:00:00+00:00", overhead_seconds=0.01)
    porous = [("verified", 0.5, 2.0, 61.25), ("verified", 0.125, 3.5, 65.0),
              ("verified", 1.75, 1.0, 69.123456789), ("infeasible", None, 0.5, None)]
    for k, (status, error, seconds, objective) in enumerate(porous):
        key = f"d2_60_70-s{k + 1}"
        images = [f"tasks/{key}/0001.png"] if status == "verified" else []
        for p in images:
            tiny_png(out / p, (40 * k, 200, 30))
        index.record(dict(base, key=key, position=k, run="d2_60_70", status=status,
                          termination="optimal" if objective else "infeasible", objective=objective,
                          bound=objective, gap=0.0 if objective else None, interval=[60, 70],
                          surrogate=[objective] if objective else None,
                          true_value=[objective + error] if objective else None, error=error,
                          verified=int(status == "verified"), solve_seconds=seconds,
                          task_seconds=seconds + 0.25, folder=f"tasks/{key}", images=images))
    tiny_png(out / "tasks/gray-r1/plot.png", (31, 119, 180))
    index.record(dict(base, key="gray-r1", position=4, run="gray", spec="specs/inverse/gray_ramp.pgen",
                      status="verified", termination="optimal", objective=0.0123456789, error=0.0123456789,
                      verified=1, solve_seconds=7.25, task_seconds=8.0, folder="tasks/gray-r1",
                      plot="tasks/gray-r1/plot.png", design={"gray": [0.1 * i for i in range(31)], "scale": 2.5}))
    index.record(dict(base, key="gray-r2", position=5, run="gray", status="failed", message=INJECTION,
                      folder="tasks/gray-r2", task_seconds=0.2))
    index.record(dict(base, key="d2_70_80-s1", position=6, run="d2_70_80", status="unknown",
                      termination="time limit", message="time limit 60 s reached", interval=[70, 80],
                      objective=72.0, bound=75.5, gap=0.048, solve_seconds=60.0, task_seconds=60.5,
                      folder="tasks/d2_70_80-s1", images=[MISSING]))
    index.close()
    return out


def index_rows(out: Path) -> list:
    index = RunIndex(out, create=False)
    try:
        return index.rows()
    finally:
        index.close()


class Node:
    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, attrs, parent, [], ""

    def walk(self):
        for c in self.children:
            yield c
            yield from c.walk()

    def find(self, tag=None, **attrs) -> list:
        return [n for n in self.walk() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def field(self, name: str) -> "Node":
        [node] = [n for n in self.walk() if n.attrs.get("data-field") == name]
        return node

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class Tree(HTMLParser):
    """A small DOM from HTML text (the stdlib has no DOM parser): tags, attributes, text."""
    VOID = {"img", "input", "meta", "br", "hr", "link", "source", "col", "wbr"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.at = Node("#root", {})
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.at)
        self.at.children.append(node)
        if tag not in self.VOID:
            self.at = node

    def handle_endtag(self, tag):
        at = self.at
        while at is not self.root and at.tag != tag:
            at = at.parent
        if at is not self.root:
            self.at = at.parent

    def handle_data(self, data):
        self.at.text += data


def parse(text: str) -> Node:
    return Tree(text).root


def test_the_page_embeds_the_index_rows_and_names_images_that_exist(run_folder):
    page = write_gallery(run_folder)
    assert page == run_folder / "index.html"
    text = page.read_text(encoding="utf-8")
    dom = parse(text)
    [blob] = dom.find("script", id="rows")
    assert blob.attrs["type"] == "application/json"
    rows = json.loads(blob.text)
    assert rows == index_rows(run_folder) and len(rows) == 7
    [meta] = dom.find("script", id="meta")
    assert json.loads(meta.text)["plan"] == "plan.toml"
    for row in rows:
        for p in (row["images"] or []) + ([row["plot"]] if row["plot"] else []):
            assert (page.parent / p).is_file() or p == MISSING
    assert "<script>alert" not in text and "<img src=x" not in text   # the message stays inside JSON
    assert len(dom.find("script")) == 3 and text.count("<script") == 3
    assert not [n for n in dom.find("script") + dom.find("link") if "src" in n.attrs or "href" in n.attrs]
    [noscript] = dom.find("noscript")
    assert "pgen batch" in noscript.all_text() and "7 tasks: 4 verified, 1 infeasible" in noscript.all_text()
    assert dom.find("title")[0].text == "pgen batch: plan.toml"
    write_gallery(run_folder)   # rewriting replaces it, leaving no temporary file behind
    assert sorted(p.name for p in run_folder.iterdir() if p.name.startswith(".")) == []


def test_odd_values_and_placeholders_in_rows_do_not_break_the_page(tmp_path):
    index = RunIndex(tmp_path)
    index.record({"key": "a</script><b>", "position": 0, "run": "@ROWS@", "status": "unknown",
                  "objective": float("inf"), "message": "@META@ \u2028 </SCRIPT>", "images": []})
    index.close()
    text = write_gallery(tmp_path).read_text(encoding="utf-8")
    [blob] = parse(text).find("script", id="rows")
    [row] = json.loads(blob.text)
    assert row["key"] == "a</script><b>" and row["run"] == "@ROWS@" and row["objective"] == "inf"
    assert row["message"] == "@META@ \u2028 </SCRIPT>"
    assert text.lower().count("</script") == 3


def test_a_folder_without_an_index_is_a_clear_error(tmp_path):
    with pytest.raises(PgenError) as e:
        write_gallery(tmp_path / "nothing")
    assert e.value.code == "E050"
    assert not (tmp_path / "nothing" / "index.html").exists()


CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium (`chromium`, Debian "
                                    "package `chromium`) is not installed: the rendered page is not checked")


def rendered(page: Path, suffix: str, profile: Path) -> Node:
    """The DOM after the page's scripts ran, as headless Chromium dumps it."""
    url = page.as_uri() + suffix
    done = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={profile}", "--window-size=1280,4000", "--virtual-time-budget=5000",
                           "--dump-dom", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "data-images-total" in done.stdout, done.stdout[-2000:]
    return parse(done.stdout)


def shown(dom: Node) -> list:
    return [c for c in dom.find("div", **{"class": "task"}) if "hidden" not in c.attrs]


def number(node: Node):
    value = node.attrs["data-value"]
    return None if value == "" else float(value)


@needs_chromium
def test_the_rendered_cards_show_the_index_values_and_load_the_images(run_folder, tmp_path):
    page = write_gallery(run_folder)
    dom = rendered(page, "", tmp_path / "profile")
    rows = {r["key"]: r for r in index_rows(run_folder)}
    cards = dom.find("div", **{"class": "task"})
    assert [c.attrs["data-key"] for c in cards] == list(rows) and shown(dom) == cards   # plan order
    for card in cards:
        row = rows[card.attrs["data-key"]]
        assert card.field("status").attrs["data-value"] == row["status"] == card.attrs["data-status"]
        assert card.field("key").text == row["key"]
        for name in ("objective", "error", "solve_seconds", "task_seconds", "bound", "gap"):
            node = card.field(name)
            assert number(node) == row[name]
            if row[name] is not None:   # shown with up to 6 significant digits
                assert float(node.text) == float(f"{row[name]:.6g}")
        for name in ("surrogate", "true_value", "interval"):
            value = card.field(name).attrs["data-value"]
            assert (json.loads(value) if value else None) == row[name]
        assert card.field("folder").attrs["href"] == row["folder"] + "/"
    assert rows["gray-r1"]["objective"] == 0.0123456789
    gray = cards[4]
    assert gray.field("objective").text == "0.0123457"
    assert json.loads(gray.field("design").attrs["data-value"]) == rows["gray-r1"]["design"]
    assert "gray = [0, 0.1, 0.2" in gray.field("design").all_text() and "31 values" in gray.field("design").all_text()
    assert cards[6].field("interval").text == "[70, 80)"
    # the injected message is text: shown as written, and no element or script came from it
    failed = cards[5]
    assert failed.field("message").text == INJECTION
    assert len(dom.find("script")) == 3 and not dom.find("img", src="x")
    body = dom.find("body")[0]
    assert "data-pwned" not in body.attrs
    # every image that exists loaded (naturalWidth > 0); the missing one is reported
    images = dom.find("img")
    assert len(images) == 5 and body.attrs["data-images-total"] == "5"
    assert body.attrs["data-images-loaded"] == "4" and body.attrs["data-images-failed"] == "1"
    assert {i.attrs["src"]: i.attrs.get("data-loaded") for i in images}[MISSING] == "0"
    assert all(i.attrs.get("data-loaded") == "1" for i in images if i.attrs["src"] != MISSING)
    summary = dom.find("p", id="summary")[0]
    assert summary.attrs["data-shown"] == "7" and summary.attrs["data-failed"] == "1"
    assert float(summary.attrs["data-median-solve"]) == 2.75   # of 0.5, 1, 2, 3.5, 7.25, 60
    assert "7 tasks: 4 verified / 1 infeasible / 1 unknown / 1 failed" in summary.text
    counts = {s.attrs["data-count"]: s.text for s in dom.find("span") if "data-count" in s.attrs}
    assert counts == {"verified": "4", "infeasible": "1", "unknown": "1", "failed": "1"}


@needs_chromium
def test_the_query_filters_by_status_and_sorts_by_error(run_folder, tmp_path):
    page = write_gallery(run_folder)
    dom = rendered(page, "?status=verified&sort=error", tmp_path / "profile")
    cards = shown(dom)
    assert {c.attrs["data-status"] for c in cards} == {"verified"} and len(cards) == 4
    errors = [number(c.field("error")) for c in cards]
    assert errors == sorted(errors) == [0.0123456789, 0.125, 0.5, 1.75]
    hidden = [c for c in dom.find("div", **{"class": "task"}) if "hidden" in c.attrs]
    assert {c.attrs["data-status"] for c in hidden} == {"infeasible", "failed", "unknown"}
    assert dom.find("p", id="summary")[0].attrs["data-shown"] == "4"
    view = dom.find("form", id="controls")[0].attrs
    assert (view["data-status"], view["data-sort"], view["data-order"], view["data-run"]) == \
        ("verified", "error", "asc", "")


@needs_chromium
def test_the_hash_selects_a_status_a_run_an_interval_and_a_descending_sort(run_folder, tmp_path):
    page = write_gallery(run_folder)
    dom = rendered(page, "#status=failed", tmp_path / "p1")
    assert [c.attrs["data-key"] for c in shown(dom)] == ["gray-r2"]
    query = urllib.parse.urlencode({"interval": "[60, 70)", "q": "s1"}, quote_via=urllib.parse.quote)
    hash_ = urllib.parse.urlencode({"interval": "[70,80)"}, quote_via=urllib.parse.quote)
    dom = rendered(page, f"?{query}#{hash_}", tmp_path / "p2")   # the hash's interval wins, q stays
    assert [c.attrs["data-key"] for c in shown(dom)] == ["d2_70_80-s1"]
    assert dom.find("form", id="controls")[0].attrs["data-interval"] == "[70,80)"
    dom = rendered(page, "#run=d2_60_70&sort=objective&order=desc", tmp_path / "p3")
    keys = [c.attrs["data-key"] for c in shown(dom)]
    assert keys == ["d2_60_70-s3", "d2_60_70-s2", "d2_60_70-s1", "d2_60_70-s4"]   # no objective: last


PROBE = """<script>
(function () {
  var verified = document.querySelector('input[type=checkbox][value=verified]');
  verified.checked = false;
  verified.dispatchEvent(new Event("change"));
  var sort = document.getElementById("sort"), order = document.getElementById("order");
  sort.value = "time"; sort.dispatchEvent(new Event("change"));
  order.value = "desc"; order.dispatchEvent(new Event("change"));
  function keys() {
    return Array.prototype.filter.call(document.querySelectorAll(".task"), function (c) { return !c.hidden; })
      .map(function (c) { return c.dataset.key; });
  }
  document.body.dataset.afterClicks = JSON.stringify({keys: keys(), hash: location.hash});
  window.addEventListener("hashchange", function () {
    document.body.dataset.afterHash = JSON.stringify({keys: keys()});
  });
  location.hash = "#run=gray";
})();
</script>
</body>"""


@needs_chromium
def test_the_controls_filter_sort_and_keep_the_hash_up_to_date(run_folder, tmp_path):
    page = write_gallery(run_folder)
    probe = run_folder / "probe.html"   # the page, and a script that uses its controls as a person would
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    body = rendered(probe, "", tmp_path / "profile").find("body")[0]
    clicks = json.loads(body.attrs["data-after-clicks"])
    assert clicks["keys"] == ["d2_70_80-s1", "d2_60_70-s4", "gray-r2"]   # 60 s, 0.5 s, none
    params = urllib.parse.parse_qs(clicks["hash"].lstrip("#"))
    assert params == {"status": ["infeasible,unknown,failed"], "sort": ["time"], "order": ["desc"]}
    assert json.loads(body.attrs["data-after-hash"])["keys"] == ["gray-r1", "gray-r2"]  # all statuses again
