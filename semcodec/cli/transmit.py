"""``semcodec codecs``, ``encode`` and ``decode``: one image through one codec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..channel import build_channel
from ..codec import build_codec
from ..errors import InvalidInput, SemcodecError
from .app import app, console
from .common import DeviceOpt, IMAGE_SUFFIXES, MaxPixelsOpt, ModelOpt, SnrOpt, TransmissionOptions, apply_limits, apply_model_overrides, check_device, check_distinct, check_output, file_path, parse_options, with_transmission_options


@app.command("codecs")
def codecs_cmd(
    options: Annotated[Optional[str], typer.Option("--options", help="List the typed options (--opt KEY=VALUE) of this codec.")] = None,
) -> None:
    """List the installed codecs: kind, what each needs, and whether it can run here."""
    from rich.table import Table

    from ..registry import CODECS, registered

    from ..codec import load_codec

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
@with_transmission_options
def encode_cmd(
    link: TransmissionOptions,
    image: Annotated[Optional[Path], typer.Argument(help="Image file (default: the built-in sample).")] = None,
    snr: SnrOpt = "10",
    codec: Annotated[Optional[str], typer.Option("--codec", "-c", help="Codec name (see `semcodec codecs`; default: the project's default codec).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", parser=file_path, help="Write the reconstruction here.")] = None,
    save_signal: Annotated[Optional[Path], typer.Option("--save-signal", parser=file_path, help="Write the received signal (npz) for `semcodec decode`.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (the record).")] = False,
    max_pixels: MaxPixelsOpt = None,
    query: Annotated[Optional[str], typer.Option("--query", help="The user's question about the image: a query-driven codec (uo-isc) is told it; for any codec, answer_match compares a VQA model's answers on the original and the reconstruction.")] = None,
) -> None:
    """Send one image: transmitter -> channel -> receiver, and measure what arrives.

    Codec options: --opt KEY=VALUE, checked against what the codec declares (`semcodec codecs
    --options NAME` lists them); the codecs' flags are listed below.
    """
    import json

    from ..channel import check_snr
    from ..imageio import load_image, save_image
    from ..signal_file import save_received

    snr_db = check_snr(snr)
    apply_model_overrides(link.model)
    apply_limits(max_pixels)
    check_output(output, IMAGE_SUFFIXES)
    check_output(save_signal)
    check_distinct({"the image": image, "-o": output, "--save-signal": save_signal})
    # The codec first: a codec that cannot run says so before torch is even imported.
    options = parse_options(link.opt)
    from ..registry import DEFAULT_CODEC

    if codec is not None and not codec.strip():
        raise InvalidInput("--codec needs a name (see `semcodec codecs`)")
    name = codec or DEFAULT_CODEC
    options = {k[len(name) + 1:] if k.startswith(f"{name}.") else k: v for k, v in options.items()}
    if link.device:  # a codec may load its model onto the device as it is built
        check_device(link.device)
    c = build_codec(name, link.bandwidth, link.design_snr, options, link.device, explicit=codec is not None)
    check_device(link.device)
    if image is None:
        from ..sample import sample_image

        source, image_id = sample_image(), "sample"
    else:
        from ..imageio import check_fits_in_memory

        check_fits_in_memory(image, c.bytes_per_pixel)  # one line, not the kernel's silent kill
        source, image_id = load_image(image), image.stem
    c.operating_point(snr_db, query)  # a missing or unwanted --query is said before any work
    result = c.run(source, snr_db=snr_db, channel=build_channel(link.channel, link.csi), seed=link.seed, query=query)
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
    output: Annotated[Path, typer.Option("--output", "-o", parser=file_path, help="Write the reconstruction here.")],
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
    from ..imageio import save_image
    from ..signal_file import decode_file

    codec_name, recon = decode_file(signal, device, parse_options(opt))
    save_image(recon.image, output)
    console.print(escape(f"{codec_name}: {recon.status}, wrote {output}"), highlight=False)
