"""End-to-end tests: the real dvc CLI in temporary git repositories (marked e2e; slow)."""
