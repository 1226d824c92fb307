"""User commands over a trained model and the experiments: predict, compare, sweep; also one console
command, `synthbert <verb>` (see stages/tools/__main__.py)."""
