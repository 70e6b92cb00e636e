"""The ``semcodec`` command line: parses, calls the library, renders with rich.

No codec logic lives here, and nothing heavy is imported at module level, so
``semcodec --help`` starts instantly (a test checks that torch is not imported).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .errors import InvalidInput, SemcodecError

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    no_args_is_help=True,
    help="Send images over a simulated noisy channel with interchangeable codecs and compare what arrives.",
)
train_app = typer.Typer(no_args_is_help=True, help="Train the project's own learned codecs.")
app.add_typer(train_app, name="train")
models_app = typer.Typer(no_args_is_help=True, help="Pretrained components: list, pull, check.")
app.add_typer(models_app, name="models")

# Off a terminal (pipes, CI logs) rich would assume 80 columns; every table fits 100.
console = Console() if sys.stdout.isatty() else Console(width=100)
err_console = Console(stderr=True, soft_wrap=True)  # an error is one line, however long
_DEBUG = {"on": False}


def _version(value: bool) -> None:
    if value:
        from . import __version__

        console.print(f"semcodec {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
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


DEFAULT_BANDWIDTH = 1 / 12  # the same as semcodec.codec.DEFAULT_BANDWIDTH, without importing it

SnrOpt = Annotated[str, typer.Option("--snr", help="Channel SNR, Es/N0 per complex symbol, in dB.")]
CodecOpt = Annotated[str, typer.Option("--codec", "-c", help="Codec name (see `semcodec codecs`).")]
ChannelOpt = Annotated[str, typer.Option("--channel", help="NAME[:key=value,...]: awgn, rayleigh[:coherence=1024,csi=perfect,pilots=16], rayleigh-fast, rician[:K=3,coherence=1024], ofdm-tdl[:model=C,delay_spread=100,speed=3,carrier=3.5,fft=256,scs=30,cp=18], noiseless, or a plugin's.")]
CsiOpt = Annotated[Optional[str], typer.Option("--csi", help="Receiver CSI on a fading channel: perfect, or estimated from pilots (LS; the pilots are channel uses of the budget).")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1, help="Seed of the channel noise.")]
MaxPixelsOpt = Annotated[Optional[int], typer.Option("--max-pixels", min=1, help="Refuse images larger than this (default 64000000, or SEMCODEC_MAX_PIXELS).")]
BandwidthOpt = Annotated[Optional[str], typer.Option("--bandwidth", help="Channel-use budget k/n, header included (default 1/12); codecs with a fixed or content-dependent use refuse it.")]
DesignOpt = Annotated[Optional[str], typer.Option("--design-snr", help="SNR the transmitter designs for (default: the channel SNR).")]
OptOpt = Annotated[Optional[list[str]], typer.Option("--opt", "-O", help="Codec option KEY=VALUE (repeatable).")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="torch device for model components.")]
ModelOpt = Annotated[Optional[list[str]], typer.Option("--model", help="Component weights COMPONENT=ID or local folder (repeatable).")]


def apply_model_overrides(models: list[str] | None) -> None:
    """``--model captioner=/path`` -> the component uses that id in this process."""
    if not models:
        return
    from .models.source import set_override

    for item in models:
        if "=" not in item:
            raise InvalidInput(f"--model wants COMPONENT=ID, got {item!r}")
        key, value = item.split("=", 1)
        set_override(key.strip(), value.strip())


def check_metric(metric: str) -> None:
    """A metric shown in a table must be one a record can hold."""
    from .registry import METRICS, names

    known = names(METRICS)
    if metric not in known:
        raise InvalidInput(f"unknown metric {metric!r} (known: {', '.join(known)})")


def parse_snr_list(text: str) -> list[float]:
    """'-3,0,3' -> [-3.0, 0.0, 3.0], each checked to be a finite SNR in range."""
    from .channel import check_snr

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidInput("--snr needs at least one value in dB")
    return list(dict.fromkeys(check_snr(p) for p in parts))  # 5,5.0 is one SNR


def parse_options(opts: list[str] | None) -> dict[str, object]:
    """``KEY=VALUE`` strings (JSON values parsed, anything else a string) -> codec options; each
    codec checks them against its typed :class:`~semcodec.codec.Option` declarations. One key
    given twice with different values (``--mcs`` and ``--opt mcs=``) is an error, not a guess."""
    import json

    out: dict[str, object] = {}
    for item in opts or []:
        if "=" not in item:
            raise InvalidInput(f"--opt wants KEY=VALUE, got {_short(item)}")
        key, value = item.split("=", 1)
        key = key.strip()
        try:
            parsed: object = json.loads(value)
        except (ValueError, RecursionError):  # not JSON (or a 5,000-digit number): the string itself
            parsed = value
        if key in out and out[key] != parsed:
            raise InvalidInput(f"option {key} is given twice, as {_short(out[key])} and {_short(parsed)}")
        out[key] = parsed
    return out


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def make_codec(name: str, bandwidth: str | None, design_snr: str | None, options: dict, device: str | None,
               explicit: bool = True):
    """Instantiate a registered codec, or raise a one-line error saying why it cannot run."""
    from .channel import check_snr
    from .errors import CodecNotReady, UnknownName
    from .registry import NO_DOWNLOAD_CODEC, load_codec

    try:
        cls = load_codec(name)
    except UnknownName:
        if explicit:
            raise
        raise CodecNotReady(
            f"the default codec {name} is not installed; use --codec {NO_DOWNLOAD_CODEC}, "
            "which works with no download"
        ) from None
    cls.parse_options(options)  # a typo in an option is reported before missing weights
    ready, reason = cls.readiness()
    if not ready:
        hint = "" if explicit else f"; or use --codec {NO_DOWNLOAD_CODEC}, which works with no download"
        raise CodecNotReady(f"{name} is not ready: {reason}{hint}")
    design = check_snr(design_snr) if design_snr is not None else None
    if design is not None and not cls.uses_design_snr:
        raise InvalidInput(f"{name} does not take --design-snr: it sends the same whatever the channel")
    if bandwidth is not None and cls.rate != "budget":
        if cls.rate == "configured":
            raise InvalidInput(f"{name} does not take --bandwidth: its channel uses follow from its options and "
                               f"checkpoint (see `semcodec codecs --options {name}`)")
        use = f"a fixed k/n of {cls.fixed_ratio:g}" if cls.rate == "fixed" else "a content-dependent number of"
        raise InvalidInput(f"{name} does not take --bandwidth: it uses {use} channel uses"
                           + ("" if cls.rate == "fixed" else " (records say \"variable\")"))
    ratio = parse_ratio(bandwidth) if bandwidth is not None else DEFAULT_BANDWIDTH
    codec = cls(bandwidth=ratio, design_snr_db=design, device=device, **options)
    codec.check_config()  # e.g. no checkpoint for this budget: said now, not once per image later
    return codec


def check_writable(path: Path | None) -> None:
    """Fail before the (possibly long) work when an output could not be written afterwards."""
    if path is None:
        return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK) or path.is_dir():
        raise InvalidInput(f"cannot write {path}: no writable folder {parent}" if not path.is_dir()
                           else f"cannot write {path}: it is a folder")


#: What matplotlib can write, so a bad --plot suffix fails before the run, not after it.
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".webp", ".jpg", ".jpeg")


def check_output(path: Path | None, suffixes: tuple[str, ...] | None = None) -> None:
    """An output path must have a known format (when ``suffixes``) and be writable."""
    if path is None:
        return
    if suffixes and path.suffix.lower() not in suffixes:
        raise InvalidInput(f"{path}: unsupported format {path.suffix or '(no suffix)'!r} "
                           f"(use one of {', '.join(suffixes)})")
    check_writable(path)


def file_identity(path: Path | str) -> tuple | str:
    """What makes two paths one file: device and inode where it exists (a hard link or a symlink
    is the same file under another name), else the resolved path."""
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return os.path.realpath(path)


def check_distinct(paths: dict[str, Path | None]) -> None:
    """No output may overwrite the input or another output (``-o in.png`` on ``in.png``, or on
    a hard link to it)."""
    seen: dict[tuple | str, str] = {}
    for what, path in paths.items():
        if path is None:
            continue
        for key in {file_identity(path), os.path.realpath(path)}:
            if key in seen:
                raise InvalidInput(f"{what} and {seen[key]} are the same file ({path}); choose another")
            seen[key] = what


#: Files ``report --html DIR`` writes into DIR.
HTML_OUTPUT = re.compile(r"^(index\.html|snr\.png|(rd|grid)\d+_.*\.png)$")


def check_report_outputs(outputs: dict[str, Path | None], html_dir: Path | None, results: list[Path],
                         records: list[dict]) -> None:
    """A report never writes over what it reads: the results files and every image a record
    names (kept reconstructions, sources), whatever name or link the output reaches them by."""
    protected: dict[tuple | str, str] = {}
    for path in results:
        protected[file_identity(path)] = str(path)
    for rec in records:
        files = rec.get("files") if isinstance(rec.get("files"), dict) else {}
        for value in (*files.values(), rec.get("image_path")):
            if isinstance(value, str) and value and len(value) < 4096 and os.path.isfile(value):
                protected[file_identity(value)] = value
    targets = {what: p for what, p in outputs.items() if p is not None}
    if html_dir is not None and html_dir.is_dir():
        with contextlib.suppress(OSError):
            targets.update({f"--html {html_dir}": f for f in html_dir.iterdir() if HTML_OUTPUT.match(f.name)})
    for what, path in targets.items():
        if os.path.exists(path) and file_identity(path) in protected:
            raise InvalidInput(f"{what} would overwrite {protected[file_identity(path)]}, which this report reads "
                               f"({path}); choose another path")


def check_device(device: str | None) -> None:
    """``--device`` (or ``SEMCODEC_DEVICE``) must name a device this machine has; checked before
    any work."""
    device = device or os.environ.get("SEMCODEC_DEVICE") or None
    if not device:
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InvalidInput(f"--device {device!r} is not a torch device (cpu, cuda, cuda:1, mps)") from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidInput(f"device {device} (--device or SEMCODEC_DEVICE): no CUDA GPU on this machine; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InvalidInput(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        return
    if dev.type == "mps" and torch.backends.mps.is_available():
        return
    raise InvalidInput(f"--device {device}: not available on this machine (use cpu or cuda)")


def apply_limits(max_pixels: int | None) -> None:
    from .limits import max_pixels as current, set_max_pixels

    set_max_pixels(max_pixels)
    current()  # a bad SEMCODEC_MAX_PIXELS is an error now, not when the first image loads


def make_channel(name: str, csi: str | None = None):
    """The channel of ``--channel NAME[:params]``; ``--csi`` sets its ``csi`` parameter (perfect or
    estimated receiver CSI) on a channel that has one."""
    from .registry import load_channel, parse_channel_spec

    if csi is None:
        return parse_channel_spec(name)
    if csi not in ("perfect", "estimated"):
        raise InvalidInput(f"--csi must be perfect or estimated, got {csi!r}")
    base, _, rest = str(name).strip().partition(":")
    if "csi" not in (getattr(load_channel(base), "params", {}) or {}):
        raise InvalidInput(f"--csi: channel {base} has no channel state to estimate (a fading block channel "
                           f"has: rayleigh, rician, ofdm-tdl)" if csi == "estimated" else
                           f"--csi: channel {base} takes no csi setting")
    if any(item.split("=")[0].strip() == "csi" for item in rest.split(",")):
        raise InvalidInput("--csi and the channel spec's csi= say the same thing: give one")
    return parse_channel_spec(f"{base}:{rest + ',' if rest.strip() else ''}csi={csi}")


@app.command("codecs")
def codecs_cmd(
    options: Annotated[Optional[str], typer.Option("--options", help="List the typed options (--opt KEY=VALUE) of this codec.")] = None,
) -> None:
    """List the installed codecs: kind, what each needs, and whether it can run here."""
    from rich.table import Table

    from .registry import CODECS, load_codec, registered

    if options:
        specs = load_codec(options).option_specs()
        table = Table(title=f"{options} options (--opt KEY=VALUE)")
        for col in ("option", "takes", "default", "what it is"):
            table.add_column(col, overflow="fold")
        for key, spec in specs.items():
            flag = ""
            if spec.flag:
                dashed = key.replace("_", "-")
                flag = f" (flag: --{dashed}" + (f" / --no-{dashed})" if spec.kind is bool else " VALUE)")
            table.add_row(key, escape(spec.describe()), escape(repr(spec.default)), escape(spec.help + flag))
        console.print(table if specs else f"{options} has no options")
        return

    table = Table(title="semcodec codecs")
    for col in ("name", "kind", "needs", "ready", "provided by"):
        table.add_column(col, overflow="fold")  # fold, never cut: a reason names model ids
    for name, item in registered(CODECS).items():
        try:
            cls = load_codec(name)
            ready, reason = cls.readiness()
            status = "[green]yes[/green]" if ready else f"[red]no[/red]: {escape(reason)}"
            table.add_row(name, cls.kind, cls.needs, status, item.distribution)
        except SemcodecError as exc:
            table.add_row(name, "?", "?", f"[red]broken[/red]: {escape(str(exc))}", item.distribution)
    console.print(table)


def _print_summary(rec: dict, out: Path | None) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    table.add_row("codec", f"{rec['codec']}  ({rec['channel']}, {rec['snr_db']:g} dB, seed {rec['seed']})")
    status = rec["status"]
    table.add_row("status", status if status == "ok" else f"[red]{status}[/red]")
    table.add_row("channel uses", f"{rec['channel_uses']:,}  (k/n = {rec['bandwidth_ratio']:.4f})")
    for name, s in rec["streams"].items():
        bits = f", {s['bits']:,} bits" if s.get("bits") else ""
        table.add_row(escape(f"  {name}"), escape(f"{s['kind']}: {s['channel_uses']:,} uses{bits}"))
    for name, value in rec["metrics"].items():
        shown = f"{value:.4g}" if value is not None else f"n/a ({rec['unavailable'].get(name, '')})"
        table.add_row(escape(name), escape(shown))
    for key, t in (rec.get("texts") or {}).items():
        table.add_row(escape(f"text {key}"), escape(f"sent: {t.get('sent', '')!r}\nrecv: {t.get('received', '')!r}"
                      + (f"\nfixed: {t['corrected']!r}" if t.get("corrected") else "")))
    table.add_row("time", f"{rec['elapsed_s']:.3f} s")
    if out:
        table.add_row("written", escape(str(out)))
    console.print(table)


@app.command("encode")
def encode_cmd(
    image: Annotated[Optional[Path], typer.Argument(help="Image file (default: the built-in sample).")] = None,
    snr: SnrOpt = "10",
    codec: Annotated[Optional[str], typer.Option("--codec", "-c", help="Codec name (see `semcodec codecs`; default: the project's default codec).")] = None,
    channel: ChannelOpt = "awgn",
    csi: CsiOpt = None,
    seed: SeedOpt = 0,
    bandwidth: BandwidthOpt = None,
    design_snr: DesignOpt = None,
    opt: OptOpt = None,
    device: DeviceOpt = None,
    model: ModelOpt = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the reconstruction here.")] = None,
    save_signal: Annotated[Optional[Path], typer.Option("--save-signal", help="Write the received signal (npz) for `semcodec decode`.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the record).")] = False,
    max_pixels: MaxPixelsOpt = None,
    query: Annotated[Optional[str], typer.Option("--query", help="The user's question about the image: a query-driven codec (uo-isc) is told it; for any codec, answer_match compares a VQA model's answers on the original and the reconstruction.")] = None,
) -> None:
    """Send one image: transmitter -> channel -> receiver, and measure what arrives.

    Codec options: --opt KEY=VALUE, checked against what the codec declares (`semcodec codecs
    --options NAME` lists them); the codecs' flags are listed below.
    """
    import json

    from .channel import check_snr
    from .imageio import load_image, save_image
    from .signal_file import save_received

    snr_db = check_snr(snr)
    apply_model_overrides(model)
    apply_limits(max_pixels)
    check_output(output, IMAGE_SUFFIXES)
    check_output(save_signal)
    check_distinct({"the image": image, "-o": output, "--save-signal": save_signal})
    # The codec first: a codec that cannot run says so before torch is even imported.
    options = parse_options(opt)
    from .registry import DEFAULT_CODEC

    if codec is not None and not codec.strip():
        raise InvalidInput("--codec needs a name (see `semcodec codecs`)")
    name = codec or DEFAULT_CODEC
    options = {k[len(name) + 1:] if k.startswith(f"{name}.") else k: v for k, v in options.items()}
    if device:  # a codec may load its model onto the device as it is built
        check_device(device)
    c = make_codec(name, bandwidth, design_snr, options, device, explicit=codec is not None)
    check_device(device)
    if image is None:
        from .sample import sample_image

        source, image_id = sample_image(), "sample"
    else:
        source, image_id = load_image(image), image.stem
    c.operating_point(snr_db, query)  # a missing or unwanted --query is said before any work
    result = c.run(source, snr_db=snr_db, channel=make_channel(channel, csi), seed=seed, query=query)
    rec = result.record
    rec["image"] = image_id
    if output is not None:
        save_image(result.reconstruction.image, output)
    if save_signal is not None:
        save_received(save_signal, result.received, c.name, c.config(), {"image": image_id})
    if as_json:
        print(json.dumps(rec, allow_nan=False))
    else:
        _print_summary(rec, output)


@app.command("decode")
def decode_cmd(
    signal: Annotated[Path, typer.Argument(help="A signal file written by `encode --save-signal`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the reconstruction here.")],
    device: DeviceOpt = None,
    model: ModelOpt = None,
    opt: Annotated[Optional[list[str]], typer.Option("--opt", "-O", help="Receiver option KEY=VALUE, e.g. checkpoint=PATH for a checkpoint of your own (a signal file never names a file to load).")] = None,
    max_pixels: MaxPixelsOpt = None,
) -> None:
    """Run only the receiver, on a saved received signal (tx and rx really split)."""
    apply_model_overrides(model)
    apply_limits(max_pixels)
    check_output(output, IMAGE_SUFFIXES)
    check_distinct({"the signal file": signal, "-o": output})
    check_device(device)
    from .imageio import save_image
    from .signal_file import decode_file

    codec_name, recon = decode_file(signal, device, parse_options(opt))
    save_image(recon.image, output)
    console.print(escape(f"{codec_name}: {recon.status}, wrote {output}"), highlight=False)


def _print_data(table) -> None:
    """A results table at its natural width off a terminal (a pipe or a log has no width to keep:
    cutting numbers to 100 columns would lose data); on a terminal, folded to fit it."""
    if sys.stdout.isatty():
        console.print(table)
        return
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update(width=10_000), table).maximum
    Console(width=max(console.width, width)).print(table)


def _render_tables(tables: list) -> None:
    """Each (dataset, channel) table: mean ± 95 % CI per codec configuration and SNR."""
    from rich.table import Table as RichTable

    from .report import cell_text

    for table in tables:
        t = RichTable(title=table.title, min_width=len(table.title) + 4)  # the title on one line
        t.add_column("codec", overflow="fold")  # numbers and labels fold on a narrow terminal, never cut
        t.add_column("k/n", justify="right", overflow="fold")
        t.add_column("N", justify="right", overflow="fold")
        for snr in table.snrs:
            t.add_column(f"{snr:g} dB", justify="right", overflow="fold")
        for row in table.rows:
            ns = sorted({c.n for c in row.cells.values()})
            ratio = "variable" if row.variable_rate else ("-" if row.ratio is None else f"{row.ratio:.3f}")
            t.add_row(escape(row.label), ratio, "/".join(map(str, ns)),
                      *[cell_text(row.cells.get(snr), table.metric, markup=True) for snr in table.snrs])
        _print_data(t)
    if tables:
        console.print("mean ± half-width of the 95 % confidence interval over N images", highlight=False)
    superseded = sum(r.superseded for t in tables for r in t.rows)
    if superseded:
        console.print(f"note: {superseded} record(s) repeating an image of a row and SNR (a re-run by another "
                      "version, an edited image) were left out; the one of the current file is kept", highlight=False)
    if any(c.failed for t in tables for r in t.rows for c in r.cells.values()):
        console.print("✗N: N images decode_failed (their reconstruction is still averaged in)")


def _render_vs(vs_tables: list) -> None:
    """``report --vs``: Bjøntegaard deltas, paired per-SNR differences, bandwidth saving, notes."""
    from .report_formats import notes, rich_tables

    for vs in vs_tables:
        for t in rich_tables(vs):
            _print_data(t)
        for line in notes(vs):
            console.print(escape(line), highlight=False, soft_wrap=True)


def _split(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


@app.command("bench")
def bench_cmd(
    dataset: Annotated[str, typer.Argument(help="kodak24, bsds500, voc2012 or a folder of images.")],
    codecs: Annotated[str, typer.Option("--codecs", help="Comma-separated names, or all.")] = "all",
    snr: Annotated[str, typer.Option("--snr", help="Comma-separated channel SNRs in dB.")] = "0,5,10,15,20",
    channel: ChannelOpt = "awgn",
    csi: CsiOpt = None,
    seed: SeedOpt = 0,
    bandwidth: BandwidthOpt = None,
    design_snr: DesignOpt = None,
    opt: OptOpt = None,
    device: DeviceOpt = None,
    model: ModelOpt = None,
    metrics: Annotated[Optional[str], typer.Option("--metrics", help="Comma-separated metrics (default: all registered).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Metric shown in the table.")] = "psnr",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Use only the first N images.")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Data folder (else SEMCODEC_DATA, else ~/.cache/semcodec).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Results JSONL (appended; reruns resume).")] = Path("results.jsonl"),
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Also write the metric-vs-SNR figure.")] = None,
    max_pixels: MaxPixelsOpt = None,
    keep_images: Annotated[Optional[Path], typer.Option("--keep-images", help="Save every reconstruction (and received texts) under this folder, for `report --grid/--html`.")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster: pip install 'semcodec\\[ray]').")] = "local",
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, max=1024, help="Worker processes (local; default 1: this process) or Ray workers (default: one per cluster CPU).")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="auto or ray://host:port (default: a local Ray started for this run).")] = None,
    gpus_per_worker: Annotated[float, typer.Option("--gpus-per-worker", min=0.0, max=64.0, help="GPUs each Ray worker reserves (e.g. 0.5: two workers per GPU).")] = 0.0,
    queries: Annotated[Optional[Path], typer.Option("--queries", help='Users\' questions, JSON lines {"image": ID, "question": TEXT}: every codec runs once per question and answer_match compares the answers; a query-driven codec (uo-isc) is told the question.')] = None,
) -> None:
    """Run codecs over a dataset at several SNRs (and budgets: --bandwidth 1/24,1/12); resumable.

    Codec options (--opt KEY=VALUE, or the codecs' flags listed below) go to every selected codec that
    declares them; --opt CODEC.KEY=VALUE to one codec only (--opt uo-isc.checkpoint=PATH).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from . import data as datasets
    from .bench import BenchPlan, run_bench
    from .report import aggregate, plot
    from .errors import CodecNotReady
    from .registry import CODECS, load_codec, names
    from .results_file import ResultsWriter, check_results_path

    snrs = parse_snr_list(snr)
    apply_model_overrides(model)
    apply_limits(max_pixels)
    check_output(plot_path, PLOT_SUFFIXES)
    check_results_path(out)
    check_writable(out)
    check_metric(metric)
    budgets: list[str | None] = [b.strip() for b in bandwidth.split(",") if b.strip()] if bandwidth else [None]
    by_value: dict[float | None, str | None] = {}
    for b in budgets:
        by_value.setdefault(parse_ratio(b) if b is not None else None, b)  # 1/12 and 0.0833… are one budget
    budgets = list(by_value.values())
    if keep_images is not None:
        try:
            keep_images.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"--keep-images {keep_images}: {exc.strerror or exc}") from None
    metric_list = [m.strip() for m in metrics.split(",")] if metrics else None
    if metric_list:
        known = names("semcodec.metrics")
        for m in metric_list:
            if m not in known:
                raise InvalidInput(f"unknown metric {m!r} (known: {', '.join(known)})")
    from .executors import make_executor

    if device:  # a codec may load its model onto the device as it is built
        check_device(device)
    runner = make_executor(executor, jobs, ray_address, gpus_per_worker)
    name, images = datasets.resolve(dataset, data)
    question_map = None
    if queries is not None:
        from .queries import read_queries

        question_map = read_queries(queries, {im.id for im in images})
        images = [im for im in images if im.id in question_map]  # only the images asked about
    images = images[:limit] if limit else images
    options = parse_options(opt)
    skipped: dict[str, str] = {}
    instances = {}
    explicit = codecs.strip() != "all"
    wanted = [c.strip() for c in codecs.split(",") if c.strip()] if explicit else names(CODECS)
    if not wanted:
        raise InvalidInput("--codecs names no codec (comma-separated names, or all)")
    accepted_anywhere: set[str] = set()
    for codec_name in wanted:
        try:
            cls = load_codec(codec_name)
        except SemcodecError as exc:
            if explicit:
                raise
            skipped[codec_name] = str(exc)
            continue
        # KEY=VALUE goes to every codec that declares KEY; CODEC.KEY=VALUE to that codec only
        accepted = {k: v for k, v in options.items() if "." not in k and k in cls.options}
        accepted_anywhere |= set(accepted)
        scoped = {k.split(".", 1)[1]: v for k, v in options.items() if k.startswith(f"{codec_name}.")}
        accepted.update(scoped)
        accepted_anywhere |= {f"{codec_name}.{k}" for k in scoped}
        cls.parse_options(accepted)  # a bad value is the user's to fix, whichever codecs are selected
        try:
            if not explicit:
                ready, reason = cls.readiness()
                if not ready:
                    skipped[codec_name] = reason
                    continue
                if cls.takes_query and question_map is None:
                    skipped[codec_name] = "it answers users' questions: give them with --queries FILE"
                    continue
            for b in budgets:
                key = codec_name if len(budgets) == 1 else f"{codec_name}@{b}"
                instances[key] = make_codec(codec_name, b, design_snr, accepted, device)
        except SemcodecError as exc:
            if explicit or (accepted and not isinstance(exc, CodecNotReady)):
                raise  # with options of the user's, a codec that cannot be built is the user's to fix
            skipped[codec_name] = str(exc)
    unused = set(options) - accepted_anywhere
    if unused:
        raise InvalidInput(f"no selected codec takes option(s) {', '.join(sorted(unused))} (CODEC.KEY=VALUE gives "
                           "an option to one codec)")
    for codec_name, reason in skipped.items():
        err_console.print(f"[yellow]skipping {codec_name}:[/yellow] {escape(reason)}", highlight=False)
    if not instances:
        raise InvalidInput("no codec is ready to run")
    check_device(device)
    plan = BenchPlan(dataset=name, images=images, codecs=instances, snrs=snrs,
                     channel=make_channel(channel, csi), seed=seed, metrics=metric_list, out=out,
                     keep_images=keep_images, queries=question_map)
    if question_map is None and any(c.takes_query for c in instances.values()):
        asking = ", ".join(sorted({c.name for c in instances.values() if c.takes_query}))
        raise InvalidInput(f"{asking} answers users' questions: give them with --queries FILE")
    with ResultsWriter(out) as writer, Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(f"bench {name}", total=plan.total, last="")

        def on_record(rec: dict, cached: bool) -> None:
            value = rec["metrics"].get(metric)
            last = f"{rec['image']} {rec['codec']} {rec['snr_db']:g} dB" + (" (saved)" if cached else "")
            if value is not None and not cached:
                last += f" {metric} {value:.3g}"
            bar.update(task, advance=1, last=last)

        def on_warning(line: str) -> None:
            err_console.print(f"[yellow]note:[/yellow] {escape(line)}", highlight=False, soft_wrap=True)

        if hasattr(runner, "note"):
            runner.note = on_warning

        try:
            records = run_bench(plan, on_record, on_warning, writer, runner)
        except KeyboardInterrupt:
            bar.stop()
            err_console.print(f"[yellow]interrupted[/yellow]: finished records are in {escape(str(out))}; "
                              "run the same command again to resume")
            raise SystemExit(130) from None
    tables = aggregate(records, metric)
    _render_tables(tables)
    skipped_items = [r for r in records if r.get("status") == "skipped"]
    if skipped_items:
        reasons = list(dict.fromkeys(r.get("reason", "") for r in skipped_items))
        console.print(escape(f"skipped {len(skipped_items)} item(s), e.g. {reasons[0]}"
                             + (f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else "")
                             + f"; every reason is in {out}"), highlight=False, soft_wrap=True)
    console.print(escape(f"results: {out}"), highlight=False)
    if plot_path:
        console.print(escape(f"figure: {plot(tables, plot_path)}"), highlight=False)


@app.command("report")
def report_cmd(
    results: Annotated[list[Path], typer.Argument(help="Results JSONL files written by `semcodec bench`.")],
    metric: Annotated[str, typer.Option("--metric", help="Metric to tabulate.")] = "psnr",
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Write the metric-vs-SNR figure.")] = None,
    codec: Annotated[Optional[str], typer.Option("--codec", help="Only these codecs (comma-separated).")] = None,
    channel: Annotated[Optional[str], typer.Option("--channel", help="Only these channels.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only these datasets.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, markdown, json, latex (booktabs) or pgfplots (CSV).")] = "table",
    allow_test_models: Annotated[bool, typer.Option("--allow-test-models", help="Include records made with the test kit's tiny random models.")] = False,
    grid_path: Annotated[Optional[Path], typer.Option("--grid", help="Write a grid of kept reconstructions (rows: codecs, columns: SNRs).")] = None,
    images: Annotated[Optional[str], typer.Option("--images", help="Images shown in --grid/--html (comma-separated ids; default: the first two).")] = None,
    rd_path: Annotated[Optional[Path], typer.Option("--rd", help="Write the rate-distortion plot (metric vs k/n) at --rd-snr.")] = None,
    rd_snr: Annotated[float, typer.Option("--rd-snr", help="SNR (dB) of the rate-distortion plot.")] = 10.0,
    html_dir: Annotated[Optional[Path], typer.Option("--html", help="Write a static HTML report into this folder.")] = None,
    vs: Annotated[Optional[str], typer.Option("--vs", help="Compare every other configuration with this codec or configuration label: BD-PSNR, BD-SNR, bandwidth saving (paired bootstrap intervals) and paired per-SNR differences.")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, max=100_000, help="Bootstrap resamples of --vs (seeded: the same records give the same intervals).")] = 2000,
) -> None:
    """The comparison tables (and figure) from saved results, one per dataset and channel."""
    from .imageio import check_readable_file
    from .report import FORMATS, aggregate, filter_records, grid, plot, rd_plot, to_csv, to_json, to_markdown
    from .results_file import deduplicate, read_results

    from .comparison import DERIVED, add_derived
    from .report_formats import FORMATS as PAPER_FORMATS

    if metric not in DERIVED:
        check_metric(metric)
    if fmt not in FORMATS + PAPER_FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(FORMATS + PAPER_FORMATS)}")
    for path in (plot_path, grid_path, rd_path):
        check_output(path, PLOT_SUFFIXES)
    if html_dir is not None and html_dir.exists() and not html_dir.is_dir():
        raise InvalidInput(f"--html {html_dir}: not a folder")
    found_all, notes = [], []
    for path in results:
        check_readable_file(path)
        found = read_results(path)
        if found.problems():
            notes.append(f"{path}: ignored {found.problems()}")
        if found.notes():
            notes.append(f"{path}: {found.notes()}")
        found_all += found.records
    records = deduplicate(found_all)
    if not records:
        raise InvalidInput(f"{', '.join(map(str, results))}: no semcodec records"
                           + (f" ({'; '.join(notes)})" if notes else ""))
    for note in notes:
        err_console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False)
    kept, test_made = filter_records(records, _split(codec), _split(channel), _split(dataset), allow_test_models)
    test_note = (f"left out {test_made} record(s) made with the test kit's tiny random models (not results; "
                 "--allow-test-models shows them)")
    if not kept:
        raise InvalidInput(f"no records to report: {test_note}" if test_made else "no records left after the filters")
    if test_made:
        err_console.print(f"[yellow]note:[/yellow] {escape(test_note)}", highlight=False)
    if images and not (grid_path or html_dir):
        raise InvalidInput("--images chooses the images of --grid or --html; give one of them")
    kept = add_derived(kept, metric)  # e.g. ms_ssim_db
    tables = aggregate(kept, metric)
    vs_tables = None
    if vs:
        from .comparison import compare

        vs_tables = compare(tables, kept, vs, bootstrap)
    check_report_outputs({"--plot": plot_path, "--grid": grid_path, "--rd": rd_path}, html_dir, results, records)
    from .report import SKIPPED

    SKIPPED.clear()
    made = []  # pictures first: a bad --images or --rd-snr fails before anything is printed
    if plot_path:
        made.append(f"figure: {plot(tables, plot_path)}")
    if grid_path:
        made.append(f"grid: {grid(kept, grid_path, _split(images), metric)}")
    if rd_path:
        made.append(f"rate-distortion: {rd_plot(kept, rd_path, rd_snr, metric)}")
    if html_dir:
        from .report_html import write_html

        made.append(f"html: {write_html(kept, html_dir, metric, _split(images), [str(p) for p in results], vs_tables)}")
    if fmt == "table":
        _render_tables(tables)
        if vs_tables:
            _render_vs(vs_tables)
    elif fmt in PAPER_FORMATS or vs_tables:
        from .report_formats import render

        text = render(fmt, tables, vs_tables)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        text = {"csv": to_csv, "markdown": to_markdown, "json": to_json}[fmt](tables)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    from .report import SKIPPED

    if SKIPPED:
        err_console.print(f"[yellow]note:[/yellow] {len(set(SKIPPED))} picture(s) left out of the grid: "
                          + escape(_one_line(SKIPPED[0]))[:200], highlight=False)
    for line in made:
        err_console.print(line, highlight=False)


@models_app.command("list")
def models_list_cmd(model: ModelOpt = None) -> None:
    """Components, the id each resolves to, who needs it, and whether it is on this machine."""
    from rich.table import Table

    from .models.catalog import status

    apply_model_overrides(model)
    rows = status()
    table = Table(title="pretrained components")
    # Ids are never cut: they are what a user copies into --model or `models pull`. Fits 100 columns.
    table.add_column("component / used by", overflow="fold", max_width=22)
    longest = max((len(st.model_id) for st in rows), default=2)
    # whole ids where 100 columns are there; on a narrower terminal they fold rather than vanish
    table.add_column("id", overflow="fold", min_width=min(48, longest) if console.width >= 100 else None)
    table.add_column("size", overflow="fold", max_width=12)
    table.add_column("here", overflow="fold")
    for st in rows:
        here = f"[green]yes[/green] {escape(str(st.path))}" if st.path else "[red]no[/red]"
        table.add_row(f"{st.key}\n[dim]{', '.join(st.used_by)}[/dim]", st.model_id, st.size, here)
    console.print(table)
    console.print("ids: --model COMPONENT=ID, SEMCODEC_<COMPONENT>, or \\[models] in semcodec.toml; "
                  "a local folder may stand for any id")


@models_app.command("pull")
def models_pull_cmd(
    target: Annotated[str, typer.Argument(help="A codec (e.g. multi-sc) or a component (e.g. captioner).")],
    model: ModelOpt = None,
) -> None:
    """Download the weights a codec or component needs (needs internet access)."""
    from .models.catalog import components_for, pull

    apply_model_overrides(model)
    for key in components_for(target):
        console.print(escape(f"{key}: {pull(key)}"), highlight=False)


@models_app.command("check")
def models_check_cmd(
    target: Annotated[Optional[str], typer.Argument(help="A codec or component (default: all).")] = None,
    model: ModelOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Load each component from the cache and run one tiny forward pass."""
    from .errors import ModelUnavailable
    from .models.catalog import check, components_for
    from .models.source import COMPONENTS, missing_reason

    apply_model_overrides(model)
    if device:
        os.environ["SEMCODEC_DEVICE"] = device
    keys = components_for(target) if target else list(COMPONENTS)
    missing = [k for k in keys if missing_reason(k, target)]
    if missing:
        raise ModelUnavailable(missing_reason(missing[0], target) + (
            f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""))
    for key in keys:
        console.print(f"[green]ok[/green] {escape(f'{key}: {check(key)}')}")


#: A trained model is work: replacing one takes this flag (or --resume continues it).
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing --out checkpoint (and its card and state).")]


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
    lr: Annotated[float, typer.Option("--lr", min=1e-12, max=10.0)] = 1e-3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, ...")] = "cpu",
    resume: Annotated[bool, typer.Option("--resume", help="Continue from --out if it exists.")] = False,
    force: ForceOpt = False,
) -> None:
    """Train the deep JSCC autoencoder through the project's own channel."""
    check_output(out, (".safetensors",))
    from .training import check_resume

    check_resume(out, resume, force)
    check_device(device)
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
        console=err_console, transient=True, disable=not err_console.is_terminal,  # a log gets no blank line
    ) as bar:
        task = bar.add_task("train", total=epochs, status="")

        def progress(epoch: int, total: int, loss: float, val_psnr: float | None) -> None:
            status = f"loss {loss:.5f}" + (f"  val {val_psnr:.2f} dB" if val_psnr is not None else "")
            bar.update(task, completed=epoch, status=status)

        card = train_deep_jscc(config, out, resume=resume, progress=progress,
                               command="semcodec " + " ".join(sys.argv[1:]), force=force)
    console.print(escape(f"wrote {out}") + f" (validation PSNR {card['val_psnr_db']:.2f} dB at {config.snr_db:g} dB)")


def _weights(text: str | None) -> list[float]:
    """``"2,1,1"`` -> ``[2.0, 1.0, 1.0]`` (finite, non-negative), one line on anything else."""
    if not text:
        return []
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidInput(f"--channel-weights: {text!r} is not comma-separated numbers") from None
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise InvalidInput("--channel-weights: weights must be finite, non-negative and not all zero")
    return values


@train_app.command("adjscc")
def train_adjscc_cmd(
    data: Annotated[list[Path], typer.Option("--data", help="Folder of training images (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint to write (.safetensors; a .json card and a .state.pt beside it).")],
    eval_data: Annotated[Optional[list[Path]], typer.Option("--eval", help="Folder evaluated periodically (e.g. kodak24); never trained on.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Total optimiser steps (the cosine schedule's length).")] = 150_000,
    batch: Annotated[int, typer.Option("--batch", min=1)] = 16,
    crop: Annotated[int, typer.Option("--crop", min=16)] = 128,
    lr: Annotated[float, typer.Option("--lr", min=1e-12, max=10.0)] = 1e-3,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Steps of linear learning-rate warm-up.")] = 1000,
    width: Annotated[int, typer.Option("--width", min=8, help="Feature channels at 1/4 resolution.")] = 64,
    blocks: Annotated[int, typer.Option("--blocks", min=0, help="Residual blocks per side.")] = 2,
    snr_min: Annotated[float, typer.Option("--snr-min")] = -5.0,
    snr_max: Annotated[float, typer.Option("--snr-max")] = 20.0,
    eval_every: Annotated[int, typer.Option("--eval-every", min=1)] = 2500,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1)] = 0,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, ...")] = "cpu",
    threads: Annotated[int, typer.Option("--threads", min=0, help="torch CPU threads (0: torch's default).")] = 0,
    bf16: Annotated[bool, typer.Option("--bf16", help="bf16 autocast on the CPU (needs AVX512-BF16; always on for CUDA).")] = False,
    channel: Annotated[Optional[list[str]], typer.Option("--channel", help="Channel to train on (repeatable: each sample draws one; default awgn).")] = None,
    channel_weights: Annotated[Optional[str], typer.Option("--channel-weights", help="Relative weights of the --channel values, comma-separated.")] = None,
    coherence: Annotated[int, typer.Option("--coherence", min=1, help="Rayleigh block length in symbols.")] = 1024,
    csi: Annotated[bool, typer.Option("--csi", help="The decoder takes each symbol's post-equalisation noise variance (fading-aware model).")] = False,
    init: Annotated[Optional[Path], typer.Option("--init", help="Start from this checkpoint's weights (fine-tuning).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the .state.pt beside --out.")] = False,
    force: ForceOpt = False,
) -> None:
    """Train the SNR- and rate-adaptive JSCC model (one model for -5…20 dB, k/n 1/12 and 1/6)."""
    from .training import check_resume

    check_output(out, (".safetensors",))
    check_resume(out, resume, force)
    check_device(device)
    from .adaptive_training import AdaptiveTrainConfig, train_adaptive
    from .channel import check_snr

    config = AdaptiveTrainConfig(
        data=[str(d) for d in data], eval_data=[str(e) for e in eval_data or []], steps=steps,
        batch=batch, crop=crop, lr=lr, warmup=warmup, width=width, blocks=blocks, snr_min=check_snr(snr_min),
        snr_max=check_snr(snr_max), eval_every=eval_every, seed=seed, device=device, threads=threads,
        bf16=bf16, channels=list(channel or ["awgn"]), channel_weights=_weights(channel_weights),
        coherence=coherence, csi=csi, init=str(init) if init else "",
    )
    if init and not init.is_file():
        raise InvalidInput(f"--init: {init} is not a file")
    from .registry import load_channel

    for name in config.channels:
        load_channel(name)
    if config.snr_min > config.snr_max:
        raise InvalidInput("--snr-min must not exceed --snr-max")

    def progress(step: int, loss: float, kodak: dict | None) -> None:
        psnr = 10 * __import__("math").log10(1 / max(loss, 1e-12))
        line = f"step {step}/{steps}  train {psnr:.2f} dB"
        if kodak:
            line += "  eval " + "  ".join(f"{k} dB: {v:.2f}" for k, v in kodak.items())
        err_console.print(line, highlight=False)

    train_adaptive(config, out, resume=resume, progress=progress,
                   command="semcodec " + " ".join(sys.argv[1:]), force=force)
    console.print(escape(f"wrote {out}"), highlight=False)


@train_app.command("uo-isc")
def train_uo_isc_cmd(
    out: Annotated[Path, typer.Option("--out", help="Checkpoint to write (.safetensors; a .json card and a .state.pt beside it).")],
    images: Annotated[Path, typer.Option("--images", help="Folder of the training images (COCO train2014 for VQAv2).")],
    queries: Annotated[Optional[Path], typer.Option("--queries", help='Questions as JSON lines {"image": ID, "question": TEXT} (ids: files of --images).')] = None,
    vqa_questions: Annotated[Optional[Path], typer.Option("--vqa-questions", help="A VQAv2 questions JSON (instead of --queries).")] = None,
    coco_instances: Annotated[Optional[Path], typer.Option("--coco-instances", help="COCO instance annotations: train on the paper's 'unseen objects' split (no animal images).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Use only the first N questions.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1)] = 20000,
    phase2_at: Annotated[float, typer.Option("--phase2-at", min=0.0, max=1.0, help="Fraction of the steps after which the adversarial phase starts.")] = 0.5,
    batch: Annotated[int, typer.Option("--batch", min=1)] = 4,
    lr: Annotated[float, typer.Option("--lr", min=1e-12, max=10.0)] = 1e-4,
    layers: Annotated[str, typer.Option("--layers", help="CLIPSeg vision layers sent (1-based, comma-separated).")] = "3,6,9,12",
    reduce_dim: Annotated[int, typer.Option("--reduce-dim", min=1, max=4096, help="Per-token width after projection (a multiple of 32): sets the payload.")] = 64,
    width: Annotated[int, typer.Option("--width", min=4, max=1024, help="Decoder channels.")] = 64,
    align: Annotated[bool, typer.Option("--align/--no-align", help="FiLM query alignment (off: the paper's ablation).")] = True,
    relevance_weight: Annotated[float, typer.Option("--relevance-weight", min=0.0, help="Weight of the user-intent relevance loss (0: no VLM needed).")] = 0.1,
    save_every: Annotated[int, typer.Option("--save-every", min=1)] = 500,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**63 - 1)] = 0,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, ...")] = "cpu",
    model: ModelOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the .state.pt beside --out.")] = False,
    force: ForceOpt = False,
) -> None:
    """Train UO-ISC in two phases (reconstruction + VQ + relevance, then adversarial)."""
    from .queries import read_vqav2, samples_from_queries, unseen_objects_split
    from .uo_isc_training import UoIscTrainConfig, check_overwrite, train_uo_isc

    check_output(out, (".safetensors",))
    check_overwrite(out, resume, force)
    apply_model_overrides(model)
    check_device(device)
    if (queries is None) == (vqa_questions is None):
        raise InvalidInput("give the questions with exactly one of --queries FILE or --vqa-questions FILE")
    try:
        layer_list = [int(x) for x in layers.split(",") if x.strip()]
    except ValueError:
        raise InvalidInput(f"--layers wants comma-separated layer numbers, got {layers!r}") from None
    if not layer_list or len(set(layer_list)) != len(layer_list):
        raise InvalidInput(f"--layers wants distinct layer numbers, e.g. 3,6,9,12; got {layers!r}")
    if coco_instances is not None and vqa_questions is None:
        raise InvalidInput("--coco-instances splits COCO images by their ids: it needs --vqa-questions")
    if queries is not None:
        samples = samples_from_queries(queries, images)[:limit] if limit else samples_from_queries(queries, images)
        data = f"queries {queries} on {images}"
    else:
        samples = read_vqav2(vqa_questions, images, limit)
        data = f"VQAv2 {vqa_questions} on {images}"
    if coco_instances is not None:
        samples, held_out = unseen_objects_split(samples, coco_instances)
        data += f"; unseen-objects split: {len(samples)} training questions without animals, {len(held_out)} held out"
    config = UoIscTrainConfig(data=data, steps=steps, phase2_at=phase2_at, batch=batch, lr=lr, layers=layer_list,
                              reduce_dim=reduce_dim, width=width, align=align, relevance_weight=relevance_weight,
                              save_every=save_every, seed=seed, device=device, warmup=min(500, max(1, steps // 20)))

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    # On a terminal a progress bar; in a log (a background run) a line every 10 steps.
    bar = Progress(TextColumn("[bold]uo-isc[/bold] phase {task.fields[phase]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=err_console, transient=True, disable=not err_console.is_terminal)
    task = bar.add_task("train", total=steps, phase="1", losses="")

    def progress(step: int, phase: str, loss: float, critic: float | None) -> None:
        tail = "" if critic is None else f"  critic {critic:.4f}"
        bar.update(task, completed=step, phase=phase, losses=f"loss {loss:.4f}{tail}")
        if not err_console.is_terminal and (step % 10 == 0 or step == steps):
            err_console.print(f"step {step}/{steps}  phase {phase}  loss {loss:.4f}{tail}", highlight=False)

    with bar:
        train_uo_isc(config, samples, out, resume=resume, progress=progress,
                     command="semcodec " + " ".join(sys.argv[1:]), force=force)
    console.print(escape(f"wrote {out}"), highlight=False)


def _one_line(text: str) -> str:
    """The first non-empty line of ``text``, so an error never floods the terminal."""
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def _usage_error(exc: Exception) -> str:
    """One line for a click/typer usage error, naming the command whose --help explains it."""
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return _one_line(message) + where


#: Commands on which a codec's flag options (``Option(flag=True)``) may be given as flags.
CODEC_FLAG_COMMANDS = ("encode", "bench")


def codec_flags() -> dict[str, list[tuple[str, str, object, bool]]]:
    """``--flag`` -> every ``(codec, option key, Option, negated)`` declaring it: each option a
    registered codec marks ``flag=True`` (a bool one also as ``--no-flag``). A codec that fails
    to import is left out here; using it reports why."""
    from .registry import CODECS, load_codec, registered

    out: dict[str, list[tuple[str, str, object, bool]]] = {}
    for name in registered(CODECS):
        try:
            specs = load_codec(name).option_specs()
        except SemcodecError:
            continue
        for key, spec in specs.items():
            if spec.flag:
                dashed = key.replace("_", "-")
                out.setdefault(f"--{dashed}", []).append((name, key, spec, False))
                if spec.kind is bool:
                    out.setdefault(f"--no-{dashed}", []).append((name, key, spec, True))
    return out


def _selected_codecs(args: list[str]) -> set[str] | None:
    """The codecs ``--codec``/``-c``/``--codecs`` name in ``args`` (``None``: the default or all)."""
    names: set[str] = set()
    for i, token in enumerate(args):
        flag, eq, value = token.partition("=")
        if flag in ("--codec", "-c", "--codecs"):
            value = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            names |= {v.strip() for v in value.split(",") if v.strip()}
    return None if not names or "all" in names else names


def _flag_help(command: str) -> None:
    """List the codecs' flags in ``encode --help`` / ``bench --help`` (built only when asked)."""
    lines = []
    for flag, decls in sorted(codec_flags().items()):
        if flag.startswith("--no-"):
            continue
        spec = decls[0][2]
        shown = f"{flag} / --no-{flag[2:]}" if spec.kind is bool else f"{flag} VALUE"
        lines.append(f"{shown} ({', '.join(sorted({d[0] for d in decls}))}): {spec.help}")
    epilog = ("Codec flags, each the same as --opt KEY=VALUE for the codecs that declare it:\n\n"
              + "\n\n".join(lines)) if lines else None
    for info in app.registered_commands:
        if info.name == command:
            info.epilog = epilog


def codec_flags_as_options(argv: list[str]) -> list[str]:
    """``encode``/``bench`` arguments with each codec-declared flag rewritten as ``--opt``
    (``--mcs qpsk-1/2`` -> ``--opt mcs=qpsk-1/2``, ``--paste-slice`` -> ``--opt paste_slice=true``),
    so codecs own their flags and the command line names none. A flag is read as the selected
    codecs declare it; two of them declaring it differently is an error. Codec classes are imported
    only when a ``--token`` is not one of the command's own options; anything else is left for the
    parser to judge (an unknown flag is still a one-line usage error)."""
    at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if at is None or argv[at] not in CODEC_FLAG_COMMANDS:
        return argv
    if "--help" in argv[at + 1:]:
        _flag_help(argv[at])
        return argv
    command = typer.main.get_command(app).commands[argv[at]]  # type: ignore[attr-defined]
    own = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    out, rest = argv[: at + 1], argv[at + 1:]
    selected = _selected_codecs(rest)
    flags: dict | None = None
    i = 0
    while i < len(rest):
        token = rest[i]
        if token == "--":
            out.extend(rest[i:])
            break
        name, eq, value = token.partition("=")
        if token.startswith("--") and name not in own:
            flags = codec_flags() if flags is None else flags
            decls = [d for d in flags.get(name, []) if selected is None or d[0] in selected]
            if len({(d[1], d[2].kind is bool, d[3]) for d in decls}) > 1:
                raise InvalidInput(f"{name} means different things to {', '.join(sorted({d[0] for d in decls}))}; "
                                   f"use --opt {decls[0][1]}=VALUE")
            if decls:
                _, key, spec, negated = decls[0]
                if spec.kind is bool and not eq:
                    out += ["--opt", f"{key}={'false' if negated else 'true'}"]
                    i += 1
                    continue
                if not negated:
                    if not eq and (i + 1 >= len(rest) or rest[i + 1].startswith("-") and len(rest[i + 1]) > 1
                                   and not rest[i + 1][1:2].isdigit()):
                        raise InvalidInput(f"{name} needs a value ({spec.describe()})")
                    out += ["--opt", f"{key}={value if eq else rest[i + 1]}"]
                    i += 1 if eq else 2
                    continue
        out.append(token)
        i += 1
    return out


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
        code = app(args=codec_flags_as_options(sys.argv[1:]), prog_name="semcodec", standalone_mode=False)
        # typer turns Ctrl-C (and a command's ``typer.Exit(n)``) into a *returned* exit code
        if code == 130:
            err_console.print("[yellow]interrupted[/yellow]")
        if isinstance(code, int) and not isinstance(code, bool) and code:
            raise SystemExit(code)
    except SemcodecError as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(_one_line(exc))}", highlight=False, soft_wrap=True)
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
        err_console.print(f"[red]error:[/red] {escape(_usage_error(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(getattr(exc, "exit_code", 2) or 2) from None
    except BrokenPipeError:  # `semcodec report r.jsonl | head -1`: the reader has what it wanted
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        raise SystemExit(0) from None
    except MemoryError:
        if debug:
            raise
        err_console.print("[red]error:[/red] out of memory (a smaller image, --max-pixels or "
                          "--limit may help)", highlight=False)
        raise SystemExit(2) from None
    except Exception as exc:
        if debug:
            raise
        err_console.print(f"[red]internal error:[/red] {type(exc).__name__}: {escape(_one_line(exc))} "
                          "(a bug; --debug shows the traceback)", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
