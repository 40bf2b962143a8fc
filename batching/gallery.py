"""`pgenc gallery`: OUT/index.html, one static page over a batch's run index.

The page opens from disk with no server and no network: the index's rows are embedded as a
JSON blob (`<script type="application/json" id="rows">`) and inline vanilla JS draws one
card per task (its images or design plot, its values, a link to its folder) with filters
(run, interval, status, key) and a sort (plan order, solve time, error, objective).

The view reads its starting state from the URL's query or hash (the hash wins), and keeps the
hash up to date, so that a view can be bookmarked or shared:
    index.html#status=failed
    index.html?run=d2_60_70&status=verified,unknown&sort=error&order=desc&interval=[60, 70)
Parameters: run, interval (as shown: "[60, 70)"), status (comma-separated, or "all"),
sort (plan | time | error | objective), order (asc | desc), q (part of the key).

Stable hooks for scripts and tests: each card is `div.task[data-key][data-status][data-run]`
(hidden cards carry the `hidden` attribute), each value a `[data-field=NAME]` element whose
`data-value` holds the raw value (full precision; JSON for lists and dicts; "" for null);
`#summary` carries data-shown, data-total, data-<status> counts and data-median-solve;
`form#controls` the view (data-run, data-interval, data-status, data-sort, data-order, data-q);
`body` carries data-images-loaded, data-images-failed and data-images-total once images load.
"""
from __future__ import annotations

import html
import json
import math
import re
import statistics
from pathlib import Path

from ..core.files import atomic_write_bytes
from .index import STATUSES, RunIndex

PAGE = "index.html"


def write_gallery(out: str | Path) -> Path:
    """Write OUT/index.html (atomically) from OUT/index.sqlite; return its path."""
    out = Path(out)
    index = RunIndex(out, create=False)
    try:
        rows, meta = index.rows(), index.meta()
    finally:
        index.close()
    path = out / PAGE
    atomic_write_bytes(path, render(rows, meta, out.name).encode("utf-8"))
    return path


def _plain(value):
    """JSON-safe: a non-finite float becomes the string "inf", "-inf" or "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def script_json(value) -> str:
    """JSON that is safe inside a <script> element: `<`, `>` and `&` only as \\u escapes."""
    text = json.dumps(_plain(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def summary(rows: list) -> str:
    counts = {s: sum(r.get("status") == s for r in rows) for s in STATUSES}
    times = [r["solve_seconds"] for r in rows if isinstance(r.get("solve_seconds"), (int, float))]
    median = f", median solve time {statistics.median(times):.3g} s" if times else ""
    return (f"{len(rows)} tasks: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + median)


def render(rows: list, meta: dict, name: str = "") -> str:
    plan = meta.get("plan") or name
    about = " · ".join(f"{k} {meta[k]}" for k in ("created", "pgen") if meta.get(k))
    values = {"TITLE": html.escape(f"pgen batch: {plan}"), "ABOUT": html.escape(about),
              "NOSCRIPT": html.escape(summary(rows)), "META": script_json(meta), "ROWS": script_json(rows)}
    return re.sub(r"@([A-Z]+)@", lambda m: values[m.group(1)], TEMPLATE)   # one pass: no text re-read


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<style>
[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 4px; }
.about { color: #666; margin: 0 0 10px; }
#controls { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; margin-bottom: 8px; }
#controls label { white-space: nowrap; }
#summary { font-weight: 600; margin: 6px 0 12px; }
#cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.task { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px; overflow: hidden; }
.head { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; margin-bottom: 6px; }
.key { font-weight: 600; word-break: break-all; }
.run { color: #666; }
.badge { border-radius: 9px; padding: 0 8px; color: #fff; font-size: 12px; }
.status-verified { background: #2e7d32; } .status-infeasible { background: #546e7a; }
.status-unknown { background: #ef8f00; } .status-failed { background: #c62828; }
.images { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
.images img { width: 96px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
.images img.plot { width: 100%; max-width: 480px; image-rendering: auto; border: 0; }
.images img[data-loaded="0"] { width: auto; border-color: #c62828; }
.design { font-family: ui-monospace, monospace; font-size: 12px; margin-bottom: 6px; word-break: break-all; }
.values { display: grid; grid-template-columns: auto 1fr; gap: 1px 10px; font-size: 13px; }
.values .label { color: #666; }
.values .empty { display: none; }
.values .value { font-variant-numeric: tabular-nums; word-break: break-all; }
.message { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 12px; color: #8e0000;
           background: #fff3f3; max-height: 10em; overflow: auto; margin: 6px 0; padding: 4px; }
</style>
</head>
<body>
<h1>@TITLE@</h1>
<p class="about">@ABOUT@</p>
<noscript><p>This is the gallery of a pgen batch run (@NOSCRIPT@). Its task cards need
JavaScript; without it, read the run index (index.sqlite, or <code>pgenc runs</code>) and the
task folders under tasks/.</p></noscript>
<form id="controls" onsubmit="return false"></form>
<p id="summary"></p>
<div id="cards"></div>
<script type="application/json" id="meta">@META@</script>
<script type="application/json" id="rows">@ROWS@</script>
<script>
(function () {
"use strict";
var rows = JSON.parse(document.getElementById("rows").textContent);
var STATUSES = ["verified", "infeasible", "unknown", "failed"];
var SORTS = {plan: "position", time: "solve_seconds", error: "error", objective: "objective"};
var ALIAS = {position: "plan", solve_seconds: "time"};
var MAX_IMAGES = 8, MAX_ITEMS = 8;
var FIELDS = [["termination", "termination"], ["objective", "objective"], ["bound", "bound"],
  ["gap", "gap"], ["surrogate", "surrogate"], ["true_value", "true value"], ["error", "error"],
  ["interval", "interval"], ["solve_seconds", "solve s"], ["task_seconds", "task s"]];

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  Object.keys(attrs || {}).forEach(function (k) { if (attrs[k] != null) e.setAttribute(k, attrs[k]); });
  if (text != null) e.textContent = text;
  return e;
}
function number(v) {
  if (typeof v === "number" && isFinite(v)) return v;
  return v === "inf" ? Infinity : v === "-inf" ? -Infinity : null;
}
function fmt(v) {
  if (v === null || v === undefined) return "\\u2013";
  if (typeof v === "number") return String(Number(v.toPrecision(6)));
  return String(v);
}
function fmtList(v, max) {
  if (!Array.isArray(v)) return fmt(v);
  var items = v.slice(0, max).map(function (x) { return fmtList(x, max); });
  if (v.length > max) items.push("\\u2026 " + v.length + " values");
  return "[" + items.join(", ") + "]";
}
function raw(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
function intervalText(iv) {
  if (iv === null || iv === undefined) return "";
  return Array.isArray(iv) && iv.length === 2 ? "[" + fmt(iv[0]) + ", " + fmt(iv[1]) + ")" : fmtList(iv, 4);
}
function squash(s) { return String(s).replace(/\\s+/g, ""); }
function href(p) { return String(p).replace(/\\\\/g, "/").split("/").map(encodeURIComponent).join("/"); }

function field(parent, name, label, value, text) {
  var empty = value === null || value === undefined ? " empty" : "";   // kept for scripts, not shown
  parent.appendChild(el("span", {"class": "label" + empty}, label));
  parent.appendChild(el("span", {"class": "value" + empty, "data-field": name, "data-value": raw(value)},
    text !== undefined ? text : Array.isArray(value) ? fmtList(value, MAX_ITEMS) : fmt(value)));
}
function image(parent, path, cls) {
  var src = href(path);
  var a = el("a", {href: src, target: "_blank"});
  var img = el("img", {src: src, alt: String(path), title: String(path), loading: "lazy", "class": cls});
  img.addEventListener("load", function () {
    img.dataset.loaded = img.naturalWidth > 0 ? "1" : "0";
    countImages();
  });
  img.addEventListener("error", function () {
    img.dataset.loaded = "0";
    img.alt = "missing: " + path;
    countImages();
  });
  a.appendChild(img);
  parent.appendChild(a);
}
function card(r) {
  var node = el("div", {"class": "task", "data-key": r.key, "data-status": r.status, "data-run": r.run,
    "data-position": r.position, "data-interval": intervalText(r.interval)});
  var head = el("div", {"class": "head"});
  head.appendChild(el("span", {"class": "key", "data-field": "key", "data-value": raw(r.key)}, r.key));
  head.appendChild(el("span", {"class": "badge status-" + r.status, "data-field": "status",
    "data-value": raw(r.status)}, r.status));
  head.appendChild(el("span", {"class": "run", "data-field": "run", "data-value": raw(r.run)}, r.run));
  node.appendChild(head);
  var paths = (Array.isArray(r.images) ? r.images : []);
  if (paths.length || r.plot) {
    var box = el("div", {"class": "images"});
    if (r.plot) image(box, r.plot, "plot");
    paths.slice(0, MAX_IMAGES).forEach(function (p) { image(box, p, "thumb"); });
    if (paths.length > MAX_IMAGES)
      box.appendChild(el("a", {href: href(r.folder || "") + "/"}, "+" + (paths.length - MAX_IMAGES) + " more"));
    node.appendChild(box);
  }
  if (r.design !== null && r.design !== undefined) {
    var design = el("div", {"class": "design", "data-field": "design", "data-value": raw(r.design)});
    var entries = typeof r.design === "object" && !Array.isArray(r.design) ? Object.keys(r.design).map(
      function (k) { return [k, r.design[k]]; }) : [["design", r.design]];
    entries.forEach(function (e) {
      var text = e[0] + " = " + fmtList(e[1], MAX_ITEMS);
      design.appendChild(el("div", {"data-name": e[0], title: JSON.stringify(e[1])}, text));
    });
    node.appendChild(design);
  }
  var values = el("div", {"class": "values"});
  FIELDS.forEach(function (f) {
    var text = f[0] === "interval" && r.interval != null ? intervalText(r.interval) : undefined;
    field(values, f[0], f[1], r[f[0]], text);
  });
  node.appendChild(values);
  if ((r.status === "failed" || r.status === "unknown") && r.message)
    node.appendChild(el("div", {"class": "message", "data-field": "message", "data-value": r.message},
      r.message));
  if (r.folder)
    node.appendChild(el("a", {"data-field": "folder", "data-value": r.folder, href: href(r.folder) + "/"}, "folder"));
  return {row: r, node: node};
}

function countImages() {
  var ok = 0, bad = 0, all = document.querySelectorAll(".task img");
  all.forEach(function (i) {
    if (i.complete && i.naturalWidth > 0) ok++;
    else if (i.dataset.loaded === "0") bad++;
  });
  document.body.dataset.imagesLoaded = ok;
  document.body.dataset.imagesFailed = bad;
  document.body.dataset.imagesTotal = all.length;
}

var cards = rows.map(card);
var holder = document.getElementById("cards");
var form = document.getElementById("controls");
var runs = [], intervals = [];
rows.forEach(function (r) {
  if (runs.indexOf(r.run) < 0) runs.push(r.run);
  var iv = intervalText(r.interval);
  if (iv && intervals.indexOf(iv) < 0) intervals.push(iv);
});
var state = {};

function readState() {
  var q = new URLSearchParams(location.search), h = new URLSearchParams(location.hash.replace(/^#/, ""));
  function get(k) { return h.has(k) ? h.get(k) : q.get(k); }
  var sort = (get("sort") || "plan").trim(), order = (get("order") || "asc").trim();
  if (sort.charAt(0) === "-") { sort = sort.slice(1); order = "desc"; }
  sort = ALIAS[sort] || sort;
  var status = (get("status") || "all").split(",").map(function (s) { return s.trim().toLowerCase(); })
    .filter(function (s) { return s; });
  state = {run: get("run") || "", interval: get("interval") || "", q: get("q") || "",
    status: status.indexOf("all") >= 0 ? null : status,
    sort: SORTS[sort] ? sort : "plan", order: order === "desc" ? "desc" : "asc"};
}
function writeState() {
  var p = new URLSearchParams(), explicit = location.search.length > 1;
  if (state.run || explicit) p.set("run", state.run);
  if (state.interval || explicit) p.set("interval", state.interval);
  if (state.status || explicit) p.set("status", state.status ? state.status.join(",") : "all");
  if (state.sort !== "plan" || explicit) p.set("sort", state.sort);
  if (state.order !== "asc" || explicit) p.set("order", state.order);
  if (state.q || explicit) p.set("q", state.q);
  var hash = p.toString();
  try {
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  } catch (e) { /* some browsers refuse it on file: URLs; the view still works */ }
}

function select(name, label, options) {
  var wrap = el("label", {}, label + " ");
  var s = el("select", {id: name, name: name});
  options.forEach(function (o) { s.appendChild(el("option", {value: o[0]}, o[1])); });
  s.addEventListener("change", function () { state[name] = s.value; apply(true); });
  wrap.appendChild(s);
  form.appendChild(wrap);
  return s;
}
var runSelect = select("run", "run", [["", "all runs"]].concat(runs.map(function (r) {
  return [r, r + " (" + rows.filter(function (x) { return x.run === r; }).length + ")"]; })));
var intervalSelect = select("interval", "interval",
  [["", "all intervals"]].concat(intervals.map(function (i) { return [i, i]; })));
if (!intervals.length) intervalSelect.parentNode.hidden = true;
var statusBox = el("span", {id: "status"}), checks = {}, countSpans = {};
var statuses = STATUSES.concat(rows.map(function (r) { return r.status; }).filter(function (s, i, a) {
  return STATUSES.indexOf(s) < 0 && a.indexOf(s) === i; }));
statuses.forEach(function (s) {
  var lab = el("label", {"class": "status-filter"});
  var c = el("input", {type: "checkbox", name: "status", value: s});
  c.addEventListener("change", function () {
    var on = statuses.filter(function (x) { return checks[x].checked; });
    state.status = on.length === statuses.length ? null : on;
    apply(true);
  });
  checks[s] = c;
  countSpans[s] = el("span", {"data-count": s}, "0");
  lab.appendChild(c);
  lab.appendChild(document.createTextNode(" " + s + " ("));
  lab.appendChild(countSpans[s]);
  lab.appendChild(document.createTextNode(")"));
  statusBox.appendChild(lab);
  statusBox.appendChild(document.createTextNode(" "));
});
form.appendChild(statusBox);
var sortSelect = select("sort", "sort by",
  [["plan", "plan order"], ["time", "solve time"], ["error", "error"], ["objective", "objective"]]);
var orderSelect = select("order", "", [["asc", "ascending"], ["desc", "descending"]]);
var qLabel = el("label", {}, "key ");
var qInput = el("input", {type: "search", id: "q", name: "q", placeholder: "part of a key"});
qInput.addEventListener("input", function () { state.q = qInput.value; apply(true); });
qLabel.appendChild(qInput);
form.appendChild(qLabel);

function syncControls() {
  [[runSelect, state.run], [intervalSelect, state.interval]].forEach(function (p) {
    var found = Array.prototype.some.call(p[0].options, function (o) { return squash(o.value) === squash(p[1]); });
    if (!found) p[0].appendChild(el("option", {value: p[1]}, p[1] + " (none)"));
    Array.prototype.forEach.call(p[0].options, function (o) {
      if (squash(o.value) === squash(p[1])) p[0].value = o.value;
    });
  });
  statuses.forEach(function (s) { checks[s].checked = !state.status || state.status.indexOf(s) >= 0; });
  sortSelect.value = state.sort;
  orderSelect.value = state.order;
  qInput.value = state.q;
}

function compare(a, b) {
  var k = SORTS[state.sort], x = number(a.row[k]), y = number(b.row[k]);
  if (x === null || y === null) {
    if (x !== y) return x === null ? 1 : -1;   // missing values last, in either order
  } else if (x !== y) return state.order === "desc" ? y - x : x - y;
  return (a.row.position || 0) - (b.row.position || 0);
}
function median(xs) {
  if (!xs.length) return null;
  xs = xs.slice().sort(function (a, b) { return a - b; });
  var m = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}
function apply(write) {
  var q = state.q.toLowerCase(), counts = {}, shown = [];
  statuses.forEach(function (s) { counts[s] = 0; });
  cards.forEach(function (c) {
    var r = c.row;
    var ok = (!state.run || r.run === state.run) &&
      (!state.interval || squash(intervalText(r.interval)) === squash(state.interval)) &&
      (!q || String(r.key).toLowerCase().indexOf(q) >= 0);
    if (ok) counts[r.status] = (counts[r.status] || 0) + 1;
    ok = ok && (!state.status || state.status.indexOf(r.status) >= 0);
    c.node.hidden = !ok;
    if (ok) shown.push(c);
  });
  cards.slice().sort(compare).forEach(function (c) { holder.appendChild(c.node); });
  statuses.forEach(function (s) { countSpans[s].textContent = counts[s]; });
  var byStatus = {};
  shown.forEach(function (c) { byStatus[c.row.status] = (byStatus[c.row.status] || 0) + 1; });
  var times = shown.map(function (c) { return number(c.row.solve_seconds); })
    .filter(function (t) { return t !== null; });
  var med = median(times), summary = document.getElementById("summary");
  summary.textContent = (shown.length === rows.length ? "" : shown.length + " of ") + rows.length + " tasks" +
    ": " + statuses.map(function (s) { return (byStatus[s] || 0) + " " + s; }).join(" / ") +
    (med === null ? "" : ", median solve time " + fmt(med) + " s");
  summary.dataset.shown = shown.length;
  summary.dataset.total = rows.length;
  statuses.forEach(function (s) { if (/^[a-z]+$/.test(s)) summary.dataset[s] = byStatus[s] || 0; });
  summary.dataset.medianSolve = med === null ? "" : String(med);
  ["run", "interval", "q", "sort", "order"].forEach(function (k) { form.dataset[k] = state[k]; });
  form.dataset.status = state.status ? state.status.join(",") : "all";   // the view, readable in the DOM
  if (write) writeState();
}

readState();
syncControls();
apply(false);
window.addEventListener("hashchange", function () { readState(); syncControls(); apply(false); });
window.addEventListener("load", countImages);
countImages();
})();
</script>
</body>
</html>
"""
