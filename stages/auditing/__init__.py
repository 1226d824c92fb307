"""Workshop of the audit stage: the synthetic rows and the real reference they are compared with (rows), the
measures (measures: discriminability, coverage, diversity, label shares) and audit.md with the headline lines
that report.md shows too (render)."""
