"""The test suite; a package so that same-named modules in its subfolders do not clash (tests.core.test_x)."""
