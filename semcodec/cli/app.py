"""The Typer application, its consoles and the one error boundary of the command line."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import SemcodecError


app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    no_args_is_help=True,
    help="Send images over a simulated noisy channel with interchangeable codecs and compare what arrives.",
)
train_app = typer.Typer(no_args_is_help=True, help="Train a learned codec: the project's own, or a plugin's (semcodec.trainers entry points).")
app.add_typer(train_app, name="train")
models_app = typer.Typer(no_args_is_help=True, help="Pretrained components: list, pull, check.")
app.add_typer(models_app, name="models")

# Off a terminal (pipes, CI logs) rich would assume 80 columns; every table fits 100.
console = Console() if sys.stdout.isatty() else Console(width=100)
err_console = Console(stderr=True, soft_wrap=True)  # an error is one line, however long
_DEBUG = {"on": False}


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"semcodec {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    _DEBUG["on"] = debug or bool(os.environ.get("SEMCODEC_DEBUG"))


def one_line(text: str) -> str:
    """The first non-empty line of ``text``, so an error never floods the terminal."""
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def usage_error(exc: Exception) -> str:
    """One line for a click/typer usage error, naming the command whose --help explains it."""
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return one_line(message) + where
