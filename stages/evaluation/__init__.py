"""Workshop of the evaluate stage: metrics and intervals, baselines, external (real) test sets, summary.md
and figures."""
