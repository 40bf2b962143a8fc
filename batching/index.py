"""The run index: `OUT/index.sqlite`, one row per finished task, written as tasks finish.

SQLite in WAL mode, one writer (the batch's parent process), one transaction per row: a
crash, a killed worker or Ctrl-C loses no row already written. A task's folder is renamed
into place *before* its row is written; a folder without a row (the parent died between the
two) is adopted from its `task.json` on the next run, so nothing is done twice.

Table `tasks` (one row per task; `status` is verified, infeasible, unknown or failed):
    key, position, run, spec, spec_hash, options (JSON), status, termination, objective,
    bound, gap, interval (JSON [lo, hi] of the first surrogate term, porous specs), surrogate
    (JSON list), true_value (JSON list), error (surrogate vs truth, porous; the objective's
    distance, inverse), verified (0/1), solve_seconds, task_seconds (in the worker: load,
    encode, solve, verify, files), overhead_seconds (the rest of the task's wall time as the
    parent saw it: dispatch, transfer, folder, row), attempts, message, worker, finished
    (UTC ISO time), folder (relative to OUT), images (JSON list of PNG paths relative to OUT),
    plot (PNG relative to OUT or null), design (JSON: the solution's variables, small ones).
Table `meta`: plan_hash, plan (its source), pgen version, created.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..core.errors import PgenError

STATUSES = ("verified", "infeasible", "unknown", "failed")
COLUMNS = (("key", "TEXT PRIMARY KEY"), ("position", "INTEGER"), ("run", "TEXT"), ("spec", "TEXT"),
           ("spec_hash", "TEXT"), ("options", "TEXT"), ("status", "TEXT"), ("termination", "TEXT"),
           ("objective", "REAL"), ("bound", "REAL"), ("gap", "REAL"), ("interval", "TEXT"),
           ("surrogate", "TEXT"), ("true_value", "TEXT"), ("error", "REAL"), ("verified", "INTEGER"),
           ("solve_seconds", "REAL"), ("task_seconds", "REAL"), ("overhead_seconds", "REAL"),
           ("attempts", "INTEGER"), ("message", "TEXT"), ("worker", "TEXT"), ("finished", "TEXT"),
           ("folder", "TEXT"), ("images", "TEXT"), ("plot", "TEXT"), ("design", "TEXT"))
NAMES = tuple(c for c, _ in COLUMNS)
JSON_COLUMNS = ("options", "interval", "surrogate", "true_value", "images", "design")
INDEX_NAME = "index.sqlite"


class RunIndex:
    """Open (or create) OUT/index.sqlite. A file that is not a pgen index is a clear error."""

    def __init__(self, out: str | Path, create: bool = True):
        self.out = Path(out)
        self.path = self.out / INDEX_NAME
        if not self.path.exists() and not create:
            raise PgenError("E050", f"`{self.out}` holds no run index ({INDEX_NAME})",
                            hint="give the --out folder of a `pgenc batch` run", filename=str(self.out))
        try:
            if create:
                self.out.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30.0)
            # damage past the header shows here, not in the middle of a batch
            verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
            # an empty database (a new file, or one that a reader's connect created) is new
            fresh = self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
            have = {r[1] for r in self.db.execute("PRAGMA table_info(tasks)")}
            if not fresh and not set(NAMES) <= have:
                raise PgenError("E050", f"`{self.path}` is not a pgen run index (it has no `tasks` table "
                                "with the index's columns)", hint="give an --out folder of its own to each batch",
                                filename=str(self.path))
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a committed row survives the process being killed (not a power cut)
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
                self.db.execute("CREATE TABLE IF NOT EXISTS tasks ("
                                + ", ".join(f"{c} {t}" for c, t in COLUMNS) + ")")
                self.db.commit()
        except sqlite3.DatabaseError as e:
            raise _damaged(self.path, e) from None
        except OSError as e:
            raise PgenError("E040", f"cannot open `{self.path}`: {e.strerror}", filename=str(self.path)) from None

    def close(self) -> None:
        self.db.close()

    def _query(self, sql: str, args=()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, args)
        except sqlite3.DatabaseError as e:
            raise _damaged(self.path, e) from None

    def meta(self) -> dict:
        return dict(self._query("SELECT name, value FROM meta"))

    def claim(self, plan_hash: str, source: str, version: str) -> None:
        """Mark this folder as the plan's, or refuse when another plan made it."""
        meta = self.meta()
        if "plan_hash" in meta and meta["plan_hash"] != plan_hash:
            raise PgenError("E050", f"`{self.out}` holds the runs of a different plan "
                            f"({meta.get('plan', '?')}, made {meta.get('created', '?')}); "
                            "its tasks, specs, files or options differ from this plan's, "
                            "and one index never mixes two plans",
                            hint="give this plan its own --out folder, or rerun the plan that made it",
                            filename=str(self.path))
        if "plan_hash" not in meta:
            import datetime

            now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                    [("plan_hash", plan_hash), ("plan", source), ("pgen", version),
                                     ("created", now)])

    def record(self, row: dict) -> None:
        """Insert or replace one task's row, in one transaction."""
        values = [json.dumps(row.get(c)) if c in JSON_COLUMNS and row.get(c) is not None else row.get(c)
                  for c in NAMES]
        try:
            with self.db:
                self.db.execute(f"INSERT OR REPLACE INTO tasks ({', '.join(NAMES)}) VALUES "
                                f"({', '.join('?' * len(NAMES))})", values)
        except sqlite3.OperationalError as e:
            hint = ("another process holds the index: wait for it, then rerun the same command" if "locked" in str(e)
                    else "free disk space, then rerun the same command: it resumes")
            raise PgenError("E040", f"cannot write the run index `{self.path}`: {e}", hint=hint,
                            filename=str(self.path)) from None
        except sqlite3.DatabaseError as e:
            raise _damaged(self.path, e) from None

    def statuses(self) -> dict:
        """key -> status of every recorded task."""
        return dict(self._query("SELECT key, status FROM tasks"))

    def rows(self, status: str | None = None, run: str | None = None) -> list:
        """Rows as dicts in plan order, JSON columns decoded; optionally one status or run."""
        query, args = "SELECT * FROM tasks", []
        where = []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if run is not None:
            where.append("run = ?")
            args.append(run)
        if where:
            query += " WHERE " + " AND ".join(where)
        cur = self._query(query + " ORDER BY position", args)
        names = [d[0] for d in cur.description]
        return [decode(dict(zip(names, r))) for r in cur.fetchall()]


def _damaged(path: Path, e: Exception) -> PgenError:
    return PgenError("E050", f"`{path}` is not a readable run index: {e}",
                     hint="move it aside (the task folders stay and are adopted again from their "
                          "task.json on the next `pgenc batch`)", filename=str(path))


def decode(row: dict) -> dict:
    for c in JSON_COLUMNS:
        if row.get(c) is not None:
            row[c] = json.loads(row[c])
    return row
