"""Errors that a stage turns into a one-line message and exit code 2 (see stages.core.cli)."""


class SynthbertError(Exception):
    """A problem with the user's input, not a bug: reported in one line, without a traceback."""


class ParamsError(SynthbertError, ValueError):
    """params.yaml has an unknown key, a wrong type or an out-of-range value."""


class DataError(SynthbertError, ValueError):
    """An input file is missing, unreadable or violates the stage's data contract."""


class Interrupted(SynthbertError):
    """SIGINT or SIGTERM stopped the stage cleanly; the message says what was kept. Exit code 128 + signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum
