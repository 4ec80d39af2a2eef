"""Typed errors of synthgen. Each names the parameter, key or file it is about; the CLI prints
one line for them and exits with code 2."""

from __future__ import annotations


class SynthgenError(Exception):
    """Base class: an error a user can act on, with a one-line message."""


class ParamError(SynthgenError, ValueError):
    """A parameter value or name is wrong.

    ``key`` is the dotted parameter name; ``where`` optionally says which file and line the
    value came from."""

    def __init__(self, key: str, problem: str, where: str | None = None):
        self.key = key
        self.problem = problem
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}parameter '{key}': {problem}")

    def __reduce__(self):  # errors cross process boundaries (dataset workers)
        return (type(self), (self.key, self.problem, self.where))


class ConfigError(SynthgenError, ValueError):
    """A configuration file (YAML, pose file, ...) is malformed."""

    def __init__(self, path: str, problem: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem
        loc = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{loc}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.line))


class ModelFileError(SynthgenError, FileNotFoundError):
    """A body-model file the user must supply is missing or cannot be read safely."""


def run_cli(app, args: list[str] | None = None) -> None:
    """Run a typer ``app`` the way every command line of the project behaves: errors a user can
    fix (SynthgenError, usage errors) print one line and exit with code 2; Ctrl-C exits 130."""
    import sys

    import typer
    from rich.console import Console
    from rich.markup import escape

    try:
        rc = app(args=args, standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except SynthgenError as e:
        # one line whatever the terminal width (scripts grep it), and file names taken literally
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as e:  # usage errors of click, or of the click copy inside typer
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(2)
        raise
