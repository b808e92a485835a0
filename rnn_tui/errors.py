"""The one exception type that reaches a person as a single line, not a traceback."""


class UserError(Exception):
    """Bad input from the user: a file, an option or a scenario field.

    The message names what was wrong and what was expected; the CLI prints it on
    one line and exits with status 2.
    """


def shown(value) -> str:
    """A value as an error message shows it: its type and the start of its repr."""
    text = " ".join(repr(value).split())
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
