"""``semcodec bench``: datasets x codecs x SNRs into a resumable results file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..signal import parse_ratio
from ..errors import InvalidInput, SemcodecError
from .app import app, console, err_console
from .common import MaxPixelsOpt, PLOT_SUFFIXES, TransmissionOptions, check_distinct, check_report_outputs, apply_limits, apply_model_overrides, check_device, check_metric, check_output, check_writable, make_channel, make_codec, parse_options, parse_snr_list, with_transmission_options
from .render import render_tables


@app.command("bench")
@with_transmission_options
def bench_cmd(
    link: TransmissionOptions,
    dataset: Annotated[str, typer.Argument(help="kodak24, bsds500, voc2012 or a folder of images.")],
    codecs: Annotated[str, typer.Option("--codecs", help="Comma-separated names, or all.")] = "all",
    snr: Annotated[str, typer.Option("--snr", help="Comma-separated channel SNRs in dB.")] = "0,5,10,15,20",
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

    from .. import data as datasets
    from ..bench import BenchPlan, run_bench
    from ..report.tables import aggregate, plot
    from ..errors import CodecNotReady
    from ..registry import CODECS, names
    from ..codec import load_codec
    from ..bench.results_file import ResultsWriter, check_results_path

    snrs = parse_snr_list(snr)
    apply_model_overrides(link.model)
    apply_limits(max_pixels)
    check_output(plot_path, PLOT_SUFFIXES)
    check_results_path(out)
    check_writable(out)
    check_metric(metric)
    budgets: list[str | None] = [b.strip() for b in link.bandwidth.split(",") if b.strip()] if link.bandwidth else [None]
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
    from ..bench.executors import make_executor

    if link.device:  # a codec may load its model onto the device as it is built
        check_device(link.device)
    runner = make_executor(executor, jobs, ray_address, gpus_per_worker)
    name, images = datasets.resolve(dataset, data)
    question_map = None
    if queries is not None:
        from ..queries import read_queries

        question_map = read_queries(queries, {im.id for im in images})
        images = [im for im in images if im.id in question_map]  # only the images asked about
    images = images[:limit] if limit else images
    # what the bench reads is never what it writes: the results, the questions, the images
    check_distinct({"--out": out, "--queries": queries, "--plot": plot_path})
    check_report_outputs({"--plot": plot_path}, None, [out] + ([queries] if queries else []),
                         [{"image_path": str(im.path)} for im in images])
    options = parse_options(link.opt)
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
                instances[key] = make_codec(codec_name, b, link.design_snr, accepted, link.device)
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
    check_device(link.device)
    plan = BenchPlan(dataset=name, images=images, codecs=instances, snrs=snrs,
                     channel=make_channel(link.channel, link.csi), seed=link.seed, metrics=metric_list, out=out,
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
    render_tables(tables)
    skipped_items = [r for r in records if r.get("status") == "skipped"]
    if skipped_items:
        reasons = list(dict.fromkeys(r.get("reason", "") for r in skipped_items))
        console.print(escape(f"skipped {len(skipped_items)} item(s), e.g. {reasons[0]}"
                             + (f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else "")
                             + f"; every reason is in {out}"), highlight=False, soft_wrap=True)
    console.print(escape(f"results: {out}"), highlight=False)
    if plot_path:
        console.print(escape(f"figure: {plot(tables, plot_path)}"), highlight=False)
