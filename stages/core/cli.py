"""The thin `main()` shared by every stage: parse paths, configure logging, run, report errors in one line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from stages.core.errors import DataError, Interrupted, SynthbertError

log = logging.getLogger("stages")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    # Libraries that are chatty at INFO.
    for name in ("httpx", "httpx2", "urllib3", "filelock", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_hugging_face()


def quiet_hugging_face() -> None:
    """No weight-loading or shard-writing bars, no per-load "LOAD REPORT" table: our own lines say what
    loads and how long it takes. Environment variables for a later import (and child processes, importing
    transformers here would slow every stage down), the setters for one already imported."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


def examples(doc: str | None) -> str:
    """The indented command lines of a module docstring (`    python -m stages.tools.x ...`)."""
    return "\n".join(line.strip() for line in (doc or "").splitlines()
                     if line.startswith("    ") and line.strip().startswith(("python -m ", "synthbert ", "cat ")))


def epilog(example: str) -> str | None:
    return "example:\n" + "\n".join("  " + line.strip() for line in example.strip().splitlines()) if example else None


def require_model_dir(path: Path, flag: str = "--model") -> None:
    """A model directory given on the command line exists and holds a saved model: checked before any import
    or params work, and blamed on the flag (not on train.model, nor a hub download)."""
    if not path.is_dir():
        raise DataError(f"{flag} {path}: no such directory (expected the model directory that train wrote, "
                        "e.g. models/classifier)")
    if not (path / "config.json").is_file():
        raise DataError(f"{flag} {path}: not a saved model (no config.json); expected the directory that train wrote")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Description and example lines as written; each option's default after its help, unless the help already
    says it or there is none to show (None, False, an empty list: the option is simply off or absent)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text, default = action.help or "", action.default
        if "(default" in text or default is None or default is False or default == [] or default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def parser(description: str, add_arguments: Callable[[argparse.ArgumentParser], None], example: str = "",
           prog: str | None = None) -> argparse.ArgumentParser:
    """A command's parser: `--params`, the command's own options, `example` lines at the end of --help; `prog` the
    name usage shows (`synthbert VERB` for a user tool, however it was started)."""
    p = argparse.ArgumentParser(prog=prog, description=description, epilog=epilog(example),
                                formatter_class=HelpFormatter)
    p.add_argument("--params", default="params.yaml", help="params file")
    add_arguments(p)
    return p


def main(
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    body: Callable[[argparse.Namespace], object],
    argv: Sequence[str] | None = None,
    example: str = "",
    prog: str | None = None,
) -> int:
    """Run a stage's `body(args)`; known input errors become `error: ...` on stderr and exit code 2.
    `example`: command lines shown at the end of --help (for a stage, the command dvc.yaml runs)."""
    return serve(parser(description, add_arguments, example, prog), body, argv)


def serve(parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], object],
          argv: Sequence[str] | None = None) -> int:
    """Parse `argv` with `parser`, configure logging and run `body(args)`; errors as in main()."""
    args = parser.parse_args(argv)
    setup_logging()
    try:
        body(args)
    except Interrupted as exc:  # a clean stop on SIGINT/SIGTERM: what was kept, in one line
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C where no handler stops cleanly: outputs are written atomically anyway
        print("interrupted", file=sys.stderr)
        return 130
    except SynthbertError as exc:
        print("error: " + " ".join(str(exc).splitlines()), file=sys.stderr)  # always one line
        return 2
    except UnicodeDecodeError as exc:  # raised by readers that did not wrap it; still one line
        print(f"error: input is not valid UTF-8 ({exc.reason} at byte {exc.start})", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable input, or a write outside stages.core.io (whose WriteError names the output)
        reason = exc.strerror or str(exc) or type(exc).__name__
        print(f"error: cannot access {exc.filename}: {reason}" if exc.filename else f"error: {reason}",
              file=sys.stderr)
        return 2
    return 0
