"""The Dask engine on a LocalCluster (worker processes, as a remote cluster has): the same
index as the local pool for the same plan, spec files shipped by content (the workers see
none of the plan's folder), a crashing worker retried by the scheduler then failed."""
from __future__ import annotations

import shutil

import pytest

import pgen
from pgen.batching.engines import LocalPool
from pgen.batching.plan import read_plan
from pgen.batching.run import run_batch

from .conftest import comparable, folder_contents, rows_of, write_plan

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def crash_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("crashes")


@pytest.fixture(scope="module")
def worker_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("worker-cache")


@pytest.fixture(scope="module")
def worker_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("worker-tmp")


@pytest.fixture(scope="module")
def cluster(crash_dir, worker_cache, worker_tmp):
    import dask

    # the fault injection (batching/task.py) is in the workers' environment from their start
    # (their solver processes inherit it); the scheduler as a user should configure it
    env = {"PGEN_TEST_CRASH_KEY": "crashy-s0002", "PGEN_TEST_CRASH_TIMES": "9", "PGEN_TEST_CRASH_DIR": str(crash_dir),
           "PGEN_CACHE_DIR": str(worker_cache), "TMPDIR": str(worker_tmp)}  # a machine of its own, as far as files go
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None, env=env) as lc:
            with distributed.Client(lc) as client:
                yield client


def test_dask_gives_the_same_index_as_the_local_pool(cluster, worker_tmp, tmp_path):
    plan = write_plan(tmp_path / "plan", cells=6)
    local, remote = tmp_path / "local", tmp_path / "dask"
    run_batch(read_plan(plan), local, LocalPool(2), progress=False)
    parsed = read_plan(plan)
    shutil.rmtree(plan.parent)  # the workers must get the specs from the client, not the disk
    rows = pgen.batch(parsed, out=remote, client=cluster)
    assert comparable(rows) == comparable(rows_of(local))
    assert folder_contents(remote) == folder_contents(local)
    assert all(r["status"] == "verified" and r["attempts"] == 1 for r in rows)
    assert {r["worker"] for r in rows} != {r["worker"] for r in rows_of(local)}  # ran elsewhere
    # from the bytes the client sent: the workers' own copies, one per spec, by content hash
    copies = {p.name for p in worker_tmp.glob("pgen-specs-*/*") if not p.name.startswith(".")}
    assert copies == {t.spec_files.digest for t in parsed.tasks}


@pytest.mark.parametrize("name, times, status", [("crashy", 9, "failed"), ("once", 1, "verified")])
def test_dask_crash_is_retried_once_then_failed(cluster, crash_dir, tmp_path, name, times, status):
    """A solver process that dies mid-task: the task runs once more, then is failed with the
    exit code, as on the local pool; the Dask workers and the other tasks are untouched."""
    plan = write_plan(tmp_path / "plan", cells=3)
    (plan.parent / f"{name}.pgen").write_text((plan.parent / "cells.pgen").read_text())
    plan.write_text(f'[[run]]\nspec = "{name}.pgen"\nseeds = "1..3"\n')
    workers = set(cluster.scheduler_info()["workers"])
    if times == 1:  # a second key for the same environment: crash once, then succeed
        cluster.run(lambda: __import__("os").environ.update(PGEN_TEST_CRASH_KEY="once-s0002",
                                                            PGEN_TEST_CRASH_TIMES="1"))
    try:
        rows = {r["key"]: r for r in pgen.batch(read_plan(plan), out=tmp_path / "out", client=cluster)}
    finally:
        cluster.run(lambda: __import__("os").environ.update(PGEN_TEST_CRASH_KEY="crashy-s0002",
                                                            PGEN_TEST_CRASH_TIMES="9"))
    bad = rows[f"{name}-s0002"]
    assert bad["status"] == status and bad["attempts"] == 2
    assert len(list(crash_dir.glob(f"{name}-s0002.*"))) == min(times, 2)  # the first try and one retry
    if status == "failed":
        assert "the worker died twice" in bad["message"] and "-9" in bad["message"]
    assert all(r["status"] == "verified" and r["attempts"] == 1 for k, r in rows.items() if k != bad["key"])
    assert set(cluster.scheduler_info()["workers"]) == workers  # no Dask worker died


def test_cached_bounds_travel_to_the_workers(cluster, worker_cache, tmp_path, monkeypatch):
    """What `pgenc bounds` cached on the client is written into each worker machine's cache."""
    client_cache = tmp_path / "client-cache"
    (client_cache / "bounds").mkdir(parents=True)
    entry = b"PK\x05\x06" + bytes(18)  # an (empty) npz: the name is its content's key
    (client_cache / "bounds" / "0123abcd.npz").write_bytes(entry)
    monkeypatch.setenv("PGEN_CACHE_DIR", str(client_cache))
    plan = write_plan(tmp_path / "plan", cells=2)
    rows = pgen.batch(read_plan(plan), out=tmp_path / "out", client=cluster)
    assert all(r["status"] == "verified" for r in rows)
    assert (worker_cache / "bounds" / "0123abcd.npz").read_bytes() == entry
