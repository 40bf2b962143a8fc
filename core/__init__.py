"""The ground floor every layer may import: spans and errors, results, options, atomic files.

Nothing here imports another part of pgen, so `dsl`, `compiler`, `runtime`, `surrogate`
and the CLI can all stand on it without an import circle.
"""
