"""The shared command-line behaviour: every command's --help ends with an example."""

import importlib

import pytest

COMMANDS = ["stages.generate", "stages.split", "stages.train", "stages.evaluate", "stages.explain", "stages.report",
            "stages.tools.predict", "stages.tools.compare", "stages.tools.sweep"]


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_every_command_ends_with_an_example(name, capsys):
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(name).main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    example = out.split("\nexample:\n", 1)[1]
    command = f"synthbert {name.rsplit('.', 1)[1]}" if name.startswith("stages.tools.") else f"python -m {name}"
    assert example.startswith(f"  {command} ") and example.strip()
