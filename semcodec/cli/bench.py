"""``semcodec bench``: datasets x codecs x SNRs into a resumable results file."""

from __future__ import annotations

import os

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..channel import build_channel
from ..errors import InvalidInput
from ..errors import printable
from .app import app, console, err_console
from .common import MaxPixelsOpt, PLOT_SUFFIXES, TransmissionOptions, check_distinct, check_report_outputs, apply_limits, apply_model_overrides, check_device, check_output, check_writable, file_path, number, parse_options, parse_snr_list, with_transmission_options
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
    limit: Annotated[Optional[int], typer.Option("--limit", parser=number(int, 1), help="Use only the first N images.")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Data folder (else SEMCODEC_DATA, else ~/.cache/semcodec).")] = None,
    out: Annotated[Path, typer.Option("--out", parser=file_path, help="Results JSONL (appended; reruns resume).")] = Path("results.jsonl"),
    plot_path: Annotated[Optional[Path], typer.Option("--plot", parser=file_path, help="Also write the metric-vs-SNR figure.")] = None,
    max_pixels: MaxPixelsOpt = None,
    keep_images: Annotated[Optional[Path], typer.Option("--keep-images", help="Save every reconstruction (and received texts) under this folder, for `report --grid/--html`.")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local (this machine) or ray (a Ray cluster: pip install 'semcodec\\[ray]').")] = "local",
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", parser=number(int, 1, 1024), help="Worker processes (local; default 1: this process) or Ray workers (default: one per cluster CPU).")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="auto or ray://host:port (default: a local Ray started for this run).")] = None,
    gpus_per_worker: Annotated[float, typer.Option("--gpus-per-worker", parser=number(float, 0.0, 64.0), help="GPUs each Ray worker reserves (e.g. 0.5: two workers per GPU).")] = 0.0,
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
    from ..bench.selection import parse_budgets, select_codecs
    from ..metrics import check_metrics
    from ..bench.results_file import ResultsWriter, check_results_path

    if data is not None and not data.strip():  # Path("") would be the working directory
        raise InvalidInput("--data: an empty path; give the data folder (or leave --data out)")
    snrs = parse_snr_list(snr)
    apply_model_overrides(link.model)
    apply_limits(max_pixels)
    check_output(plot_path, PLOT_SUFFIXES)
    check_results_path(out)
    check_writable(out)
    check_metrics([metric])  # the one shown in the table
    budgets = parse_budgets(link.bandwidth)
    if keep_images is not None:
        if os.path.realpath(keep_images) == os.path.realpath(out):
            raise InvalidInput(f"--keep-images {keep_images} is the results file --out names; give a folder of its own")
    metric_list = [m.strip() for m in metrics.split(",")] if metrics else None
    check_metrics(metric_list)
    from ..bench.executors import make_executor

    if link.device:  # a codec may load its model onto the device as it is built
        check_device(link.device)
    runner = make_executor(executor, jobs, ray_address, gpus_per_worker)
    name, images = datasets.resolve(dataset, data)
    if keep_images is not None:
        keeps = (os.path.realpath(keep_images), os.path.realpath(keep_images / name))  # files go to KEEP/<dataset>/
        for folder in sorted({os.path.realpath(im.path.parent) for im in images}):
            if any(k == folder or k.startswith(folder + os.sep) for k in keeps):  # a next bench would read them
                raise InvalidInput(f"--keep-images {keep_images} lies in the dataset's folder {folder}; "
                                   "give a folder outside it")
        try:
            keep_images.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise InvalidInput(f"--keep-images {keep_images}: exists and is not a folder") from None
        except OSError as exc:
            raise InvalidInput(f"--keep-images {keep_images}: {exc.strerror or exc}") from None
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
    selection = select_codecs(codecs, parse_options(link.opt), budgets, link.design_snr, link.device,
                              question_map is not None)
    instances = selection.instances
    for codec_name, reason in selection.skipped.items():
        err_console.print(f"[yellow]skipping {codec_name}:[/yellow] {escape(reason)}", highlight=False)
    if not instances:
        raise InvalidInput("no codec is ready to run")
    check_device(link.device)
    plan = BenchPlan(dataset=name, images=images, codecs=instances, snrs=snrs,
                     channel=build_channel(link.channel, link.csi), seed=link.seed, metrics=metric_list, out=out,
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
        console.print(escape(f"skipped {len(skipped_items)} item(s), e.g. {printable(reasons[0])}"
                             + (f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else "")
                             + f"; every reason is in {out}"), highlight=False, soft_wrap=True)
    console.print(escape(f"results: {out}"), highlight=False)
    if plot_path:
        console.print(escape(f"figure: {plot(tables, plot_path)}"), highlight=False)
