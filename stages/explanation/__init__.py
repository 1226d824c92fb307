"""Workshop of the explain stage: the cached LIME classifier, LIME pages, mismatches.md and the
spurious-pattern aggregate with its chart."""
