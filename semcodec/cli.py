"""The ``semcodec`` command line: parses, calls the library, renders with rich.

No codec logic lives here, and nothing heavy is imported at module level, so
``semcodec --help`` starts instantly (a test checks that torch is not imported).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import InvalidInput, SemcodecError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Send images over a simulated noisy channel with interchangeable codecs and compare what arrives.",
)
train_app = typer.Typer(no_args_is_help=True, help="Train the project's own learned codecs.")
app.add_typer(train_app, name="train")

console = Console()
err_console = Console(stderr=True)
_DEBUG = {"on": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _DEBUG["on"] = debug or bool(os.environ.get("SEMCODEC_DEBUG"))


def parse_ratio(text: str) -> float:
    """'1/12' or '0.0833' -> float in (0, 10]; anything else is a one-line error."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidInput(f"bandwidth must look like 1/12 or 0.083, got {text!r}") from None
    if not 0 < value <= 10 or value != value:
        raise InvalidInput(f"bandwidth ratio must be in (0, 10], got {text!r}")
    return value


@train_app.command("deep-jscc")
def train_deep_jscc_cmd(
    data: Annotated[list[Path], typer.Option("--data", help="Folder of training images (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint to write (.safetensors; a .json card beside it).")],
    val: Annotated[Optional[list[Path]], typer.Option("--val", help="Validation folder; default: every 20th training image held out.")] = None,
    snr: Annotated[float, typer.Option("--snr", help="Training SNR, Es/N0 in dB.")] = 10.0,
    bandwidth: Annotated[str, typer.Option("--bandwidth", help="Bandwidth ratio k/n = c/96.")] = "1/12",
    channel: Annotated[str, typer.Option("--channel")] = "awgn",
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="One epoch = one random crop of every image.")] = 100,
    batch: Annotated[int, typer.Option("--batch", min=1)] = 16,
    crop: Annotated[int, typer.Option("--crop", min=8)] = 128,
    lr: Annotated[float, typer.Option("--lr")] = 1e-3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, ...")] = "cpu",
    resume: Annotated[bool, typer.Option("--resume", help="Continue from --out if it exists.")] = False,
) -> None:
    """Train the deep JSCC autoencoder through the project's own channel."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .channel import check_snr
    from .training import TrainConfig, train_deep_jscc

    config = TrainConfig(
        data=[str(d) for d in data], val=[str(v) for v in val or []], snr_db=check_snr(snr),
        bandwidth=parse_ratio(bandwidth), channel=channel, epochs=epochs, batch=batch, crop=crop,
        lr=lr, lr_final=lr / 10, seed=seed, device=device,
    )
    with Progress(
        TextColumn("[bold]training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err_console,
    ) as bar:
        task = bar.add_task("train", total=epochs, status="")

        def progress(epoch: int, total: int, loss: float, val_psnr: float | None) -> None:
            status = f"loss {loss:.5f}" + (f"  val {val_psnr:.2f} dB" if val_psnr is not None else "")
            bar.update(task, completed=epoch, status=status)

        card = train_deep_jscc(config, out, resume=resume, progress=progress,
                               command="semcodec " + " ".join(sys.argv[1:]))
    console.print(f"wrote {out} (validation PSNR {card['val_psnr_db']:.2f} dB at {config.snr_db:g} dB)")


def main() -> None:
    """Console-script entry point: SemcodecError -> one red line, exit 2."""
    try:
        app(standalone_mode=False)
    except SemcodecError as exc:
        if _DEBUG["on"]:
            raise
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]")
        raise SystemExit(130) from None
    except (typer.Exit, SystemExit) as exc:
        raise SystemExit(getattr(exc, "exit_code", getattr(exc, "code", 0))) from None
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            raise SystemExit(2) from None
        if isinstance(exc, click.exceptions.Abort):
            err_console.print("[yellow]aborted[/yellow]")
            raise SystemExit(130) from None
        raise


if __name__ == "__main__":
    main()
