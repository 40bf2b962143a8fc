"""Many verified solves at once: `pgenc batch`, `pgenc runs`, `pgenc gallery`, `pgen.batch`.

plan.py reads a plan (TOML, or one spec and a count) into tasks; index.py keeps the run
index (SQLite, one row per finished task); task.py is one task in a worker (load, solve,
verify, the run folder's files); engines.py runs tasks on a local pool of worker processes or
a Dask cluster; run.py drives a batch (resume, folders, rows, progress); gallery.py writes
the HTML page.
"""
