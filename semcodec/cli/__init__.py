"""The ``semcodec`` command line: parses, calls the library, renders with rich.

One module per command group, each command a thin layer over a library call: :mod:`.transmit`
(``codecs``, ``encode``, ``decode``), :mod:`.bench`, :mod:`.report`, :mod:`.models`,
:mod:`.train` (``train NAME`` for every registered trainer); :mod:`.app` holds the Typer
application, :mod:`.common` the shared options and checks, :mod:`.codec_flags` the codecs' own
flags. No codec logic lives here, and nothing heavy is imported at module level, so
``semcodec --help`` starts instantly (a test checks that torch is not imported). The library
never imports this package.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from ..errors import SemcodecError
from . import bench, models, report, transmit  # noqa: F401 - each registers its commands
from ..errors import printable
from .app import _DEBUG, app, err_console, one_line, usage_error
from .codec_flags import codec_flags_as_options
from .train import register_trainers

__all__ = ["app", "main"]


def _stop_on_sigterm() -> None:
    """SIGTERM (``timeout``, Slurm, ``docker stop``, a closed terminal's shell) stops a command the
    way Ctrl-C does: a bench stops its workers and says where its finished records are."""
    import signal
    import threading

    def interrupt(signum, frame):  # noqa: ARG001 - the signal handler's signature
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    """Console-script entry point: the one error boundary of the command line.

    A :class:`SemcodecError` or a usage error (typer's vendored click, or click itself) is one
    red line and exit 2; Ctrl-C is exit 130; anything else is a bug, reported in one line with
    exit 1. ``--debug`` (or ``SEMCODEC_DEBUG=1``) re-raises to show the traceback.
    """
    from typer._click import exceptions as typer_click

    try:
        import click.exceptions as click_exceptions

        usage_types: tuple[type, ...] = (typer_click.ClickException, click_exceptions.ClickException)
        abort_types: tuple[type, ...] = (typer.Abort, click_exceptions.Abort)
    except ImportError:  # pragma: no cover - click is a declared dependency
        usage_types, abort_types = (typer_click.ClickException,), (typer.Abort,)
    debug = _DEBUG["on"] or bool(os.environ.get("SEMCODEC_DEBUG")) or "--debug" in sys.argv[1:2]
    _stop_on_sigterm()
    try:
        register_trainers(sys.argv[1:])
        code = app(args=codec_flags_as_options(sys.argv[1:]), prog_name="semcodec", standalone_mode=False)
        # typer turns Ctrl-C (and a command's ``typer.Exit(n)``) into a *returned* exit code
        if code == 130:
            err_console.print("[yellow]interrupted[/yellow]")
        if isinstance(code, int) and not isinstance(code, bool) and code:
            raise SystemExit(code)
    except SemcodecError as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(printable(str(exc)))}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]")
        raise SystemExit(130) from None
    except (typer.Exit, SystemExit) as exc:
        raise SystemExit(getattr(exc, "exit_code", getattr(exc, "code", 0))) from None
    except typer_click.NoArgsIsHelpError as exc:
        exc.show()
        raise SystemExit(2) from None
    except abort_types:
        err_console.print("[yellow]aborted[/yellow]")
        raise SystemExit(130) from None
    except usage_types as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(usage_error(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(getattr(exc, "exit_code", 2) or 2) from None
    except BrokenPipeError:  # `semcodec report r.jsonl | head -1`: the reader has what it wanted
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        raise SystemExit(0) from None
    except (MemoryError, RecursionError) as exc:  # what an outsized or deeply nested input causes
        if debug:
            raise
        reason = ("out of memory (a smaller image, --max-pixels or --limit may help)" if isinstance(exc, MemoryError)
                  else "an input is nested too deeply to read (lists or tables inside one another thousands deep)")
        err_console.print(f"[red]error:[/red] {reason}", highlight=False)
        raise SystemExit(2) from None
    except Exception as exc:
        if debug:
            raise
        err_console.print(f"[red]internal error:[/red] {type(exc).__name__}: {escape(one_line(exc))} "
                          "(a bug; --debug shows the traceback)", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
