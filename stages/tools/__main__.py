"""`synthbert <verb> ...` (and `python -m stages.tools <verb> ...`): one console command for the user tools.

    synthbert predict "You won't believe what the mayor did"
    synthbert compare --rev main
    synthbert compare --seed-groups
    synthbert sweep --trials 20
    synthbert export --out models/onnx
    synthbert focus
    synthbert rounds
    synthbert push --model-repo USER/NAME --dataset-repo USER/NAME-data
    synthbert select --pool unlabelled.csv --n 50

Each verb is also `python -m stages.tools.<verb>` (its usage still says `synthbert <verb>`); `synthbert <verb> --help`
shows its options. No verb prints this help and exits 2; `synthbert --version` prints the installed version.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

VERBS = {
    "predict": "label and class probabilities of texts with the trained model",
    "compare": "verdict, metrics, params and per-label F1 against a git revision; seed groups of experiments",
    "sweep": "a Bayesian sweep over DVC experiments (Optuna)",
    "export": "the trained model as ONNX and int8 ONNX, checked against PyTorch on the test split",
    "focus": "aim the next generation round at a dev set's errors (writes data/focus.yaml)",
    "rounds": "the ledger of focus rounds from the git history: real-test gains, rows, dollars, when to stop",
    "push": "upload the model (with its card and ONNX export) and the generated data to the Hugging Face Hub",
    "select": "which unlabelled real texts to label next: the most uncertain, spread out, as a CSV to fill in",
}


def version() -> str:
    """The installed distribution's version (pyproject.toml's, as pip recorded it)."""
    try:
        return importlib.metadata.version("synthbert")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def usage() -> str:
    lines = ["usage: synthbert [-h] [--version] <verb> [options]   (synthbert <verb> --help for a verb's options)", "",
             "verbs:"]
    lines += [f"  {verb:<9} {what}" for verb, what in VERBS.items()]
    lines += ["", "example:", '  synthbert predict "You won\'t believe what the mayor did" "Council approves budget"']
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:  # a command line missing its verb is a usage error, as argparse's are
        print(usage(), file=sys.stderr)
        return 2
    if args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"synthbert {version()}")
        return 0
    verb, rest = args[0], args[1:]
    if verb not in VERBS:
        print(f"error: synthbert: unknown verb {verb!r}; expected one of {', '.join(VERBS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"stages.tools.{verb}")
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
