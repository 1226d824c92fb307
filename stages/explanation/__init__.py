"""Workshop of the explain stage: which rows to explain (selection), the cached LIME classifier and the
per-example LIME work (lime_runner), the spurious-pattern aggregate and its chart (patterns), and the LIME
pages with mismatches.md (pages)."""
