"""The console command `synthbert <verb>` (pyproject.toml [project.scripts]) dispatches to stages.tools.<verb>."""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stages.tools import __main__ as synthbert
from testkit.dvc_repo import subprocess_env


def test_every_verb_is_a_module_with_a_main_and_help_with_an_example(capsys):
    assert synthbert.main([]) == 2  # no verb: the help, on stderr, and a usage error's exit code
    usage = capsys.readouterr().err
    assert synthbert.main(["--help"]) == 0 and capsys.readouterr().out == usage
    assert "usage: synthbert [-h] [--version] <verb>" in usage and "example:" in usage
    for verb in synthbert.VERBS:
        assert f"  {verb} " in usage
        with pytest.raises(SystemExit) as done:
            synthbert.main([verb, "--help"])
        assert done.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_unknown_verb_is_one_line_and_exit_2(capsys):
    assert synthbert.main(["predcit"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: synthbert: unknown verb 'predcit'; expected one of {', '.join(synthbert.VERBS)}"
    assert list(synthbert.VERBS)[:3] == ["predict", "compare", "sweep"]


def test_the_installed_console_command_and_python_m_agree():
    exe = shutil.which("synthbert", path=str(Path(sys.executable).parent))
    assert exe, "synthbert is not installed next to this interpreter: run scripts/setup.sh (pip install -e .)"
    via_script = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, env=subprocess_env())
    via_module = subprocess.run([sys.executable, "-m", "stages.tools", "--help"], capture_output=True, text=True,
                                timeout=60, env=subprocess_env())
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout and "predict" in via_script.stdout


def test_version_is_the_installed_distribution_s(capsys):
    assert synthbert.main(["--version"]) == 0
    assert capsys.readouterr().out == f"synthbert {importlib.metadata.version('synthbert')}\n"


def verb_parser(verb: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser `synthbert VERB` builds, caught when it starts parsing (before any work)."""
    class Caught(Exception):
        pass

    def catch(self, args=None, namespace=None):
        raise Caught(self)

    with monkeypatch.context() as m:
        m.setattr(argparse.ArgumentParser, "parse_args", catch)
        with pytest.raises(Caught) as caught:
            synthbert.main([verb])
    return caught.value.args[0]


@pytest.mark.parametrize("verb", list(synthbert.VERBS))
def test_each_verb_says_synthbert_verb_documents_every_option_and_shows_its_default(verb, monkeypatch):
    parser = verb_parser(verb, monkeypatch)
    text = parser.format_help()
    assert text.startswith(f"usage: synthbert {verb} "), text[:80]
    examples = text.split("\nexample:\n", 1)[1].strip().splitlines()
    assert examples and all(re.match(rf"(cat \S+ \| )?synthbert {verb}\b", line.strip()) for line in examples), examples
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert (action.help or "").strip(), f"synthbert {verb} {name}: no help"
        shown, default = formatter._expand_help(action), action.default
        if default is not None and default is not False and default != []:
            assert f"(default: {default})" in shown or f"(default: {default}" in shown, f"{verb} {name}: {shown!r}"


def test_python_m_of_a_verb_still_shows_synthbert_verb():
    proc = subprocess.run([sys.executable, "-m", "stages.tools.predict", "--help"], capture_output=True, text=True,
                          timeout=60, env=subprocess_env())
    assert proc.returncode == 0 and proc.stdout.startswith("usage: synthbert predict ")
    assert "python -m" not in proc.stdout
