"""The console command `synthbert <verb>` (pyproject.toml [project.scripts]) dispatches to stages.tools.<verb>."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stages.tools import __main__ as synthbert
from testkit.dvc_repo import subprocess_env


def test_every_verb_is_a_module_with_a_main_and_help_with_an_example(capsys):
    assert synthbert.main([]) == 0
    usage = capsys.readouterr().out
    assert "usage: synthbert <verb>" in usage and "example:" in usage
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
