"""``semcodec report``: tables, figures, grids, HTML and ``--vs`` comparisons from results files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..errors import InvalidInput
from .app import one_line, app, err_console
from .common import PLOT_SUFFIXES, check_distinct, check_output, check_report_outputs, file_path, number
from .render import render_tables, render_vs, split_list


@app.command("report")
def report_cmd(
    results: Annotated[list[Path], typer.Argument(help="Results JSONL files written by `semcodec bench`.")],
    metric: Annotated[str, typer.Option("--metric", help="Metric to tabulate.")] = "psnr",
    plot_path: Annotated[Optional[Path], typer.Option("--plot", parser=file_path, help="Write the metric-vs-SNR figure.")] = None,
    codec: Annotated[Optional[str], typer.Option("--codec", help="Only these codecs (comma-separated).")] = None,
    channel: Annotated[Optional[str], typer.Option("--channel", help="Only these channels.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only these datasets.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, markdown, json, latex (booktabs) or pgfplots (CSV).")] = "table",
    allow_test_models: Annotated[bool, typer.Option("--allow-test-models", help="Include records made with the test kit's tiny random models.")] = False,
    grid_path: Annotated[Optional[Path], typer.Option("--grid", parser=file_path, help="Write a grid of kept reconstructions (rows: codecs, columns: SNRs).")] = None,
    images: Annotated[Optional[str], typer.Option("--images", help="Images shown in --grid/--html (comma-separated ids; default: the first two).")] = None,
    rd_path: Annotated[Optional[Path], typer.Option("--rd", parser=file_path, help="Write the rate-distortion plot (metric vs k/n) at --rd-snr.")] = None,
    rd_snr: Annotated[float, typer.Option("--rd-snr", parser=number(float), help="SNR (dB) of the rate-distortion plot.")] = 10.0,
    html_dir: Annotated[Optional[Path], typer.Option("--html", help="Write a static HTML report into this folder.")] = None,
    vs: Annotated[Optional[str], typer.Option("--vs", help="Compare every other configuration with this codec or configuration label: BD-PSNR, BD-SNR, bandwidth saving (paired bootstrap intervals) and paired per-SNR differences.")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", parser=number(int, 100, 100_000), help="Bootstrap resamples of --vs (seeded: the same records give the same intervals).")] = 2000,
) -> None:
    """The comparison tables (and figure) from saved results, one per dataset and channel."""
    from ..imageio import check_readable_file
    from ..report.tables import FORMATS, aggregate, filter_records, grid, plot, rd_plot, to_csv, to_json, to_markdown
    from ..bench.results_file import deduplicate, read_results

    from ..report.comparison import DERIVED, add_derived
    from ..report.formats import FORMATS as PAPER_FORMATS
    from ..metrics import check_metrics

    if metric not in DERIVED:
        check_metrics([metric])
    if fmt not in FORMATS + PAPER_FORMATS:
        raise InvalidInput(f"--format {fmt!r}: use one of {', '.join(FORMATS + PAPER_FORMATS)}")
    for path in (plot_path, grid_path, rd_path):
        check_output(path, PLOT_SUFFIXES)
    if html_dir is not None:  # before any work: a new, empty or earlier report's folder only
        from ..report.html import check_html_folder

        check_html_folder(html_dir)
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
    kept, test_made = filter_records(records, split_list(codec), split_list(channel), split_list(dataset), allow_test_models)
    test_note = (f"left out {test_made} record(s) made with the test kit's tiny random models (not results; "
                 "--allow-test-models shows them)")
    if not kept:
        raise InvalidInput(f"no records to report: {test_note}" if test_made else "no records left after the filters")
    if test_made:
        err_console.print(f"[yellow]note:[/yellow] {escape(test_note)}", highlight=False)
    if images and not (grid_path or html_dir):
        raise InvalidInput("--images chooses the images of --grid or --html; give one of them")
    kept = add_derived(kept, metric)  # e.g. ms_ssim_db
    if metric in DERIVED and (perfect := sum(r["metrics"].get(metric) is None and r["metrics"].get(DERIVED[metric])
                                             is not None for r in kept if isinstance(r.get("metrics"), dict))):
        err_console.print(f"[yellow]note:[/yellow] {perfect} record(s) with {DERIVED[metric]} 1 have no {metric} "
                          "(infinite in dB): left out of the means (a cell of only such records shows -)", highlight=False)
    tables = aggregate(kept, metric)
    vs_tables = None
    if vs:
        from ..report.comparison import compare

        vs_tables = compare(tables, kept, vs, bootstrap)
    check_distinct({"--plot": plot_path, "--grid": grid_path, "--rd": rd_path})  # one output never replaces another
    check_report_outputs({"--plot": plot_path, "--grid": grid_path, "--rd": rd_path}, html_dir, results, records)
    from ..report.tables import SKIPPED

    SKIPPED.clear()
    made = []  # pictures first: a bad --images or --rd-snr fails before anything is printed
    if plot_path:
        made.append(f"figure: {plot(tables, plot_path)}")
    if grid_path:
        made.append(f"grid: {grid(kept, grid_path, split_list(images), metric)}")
    if rd_path:
        made.append(f"rate-distortion: {rd_plot(kept, rd_path, rd_snr, metric)}")
    if html_dir:
        from ..report.html import write_html

        made.append(f"html: {write_html(kept, html_dir, metric, split_list(images), [str(p) for p in results], vs_tables)}")
    if fmt == "table":
        render_tables(tables)
        if vs_tables:
            render_vs(vs_tables)
    elif fmt in PAPER_FORMATS or vs_tables:
        from ..report.formats import render

        text = render(fmt, tables, vs_tables)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        text = {"csv": to_csv, "markdown": to_markdown, "json": to_json}[fmt](tables)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    from ..report.tables import SKIPPED

    if SKIPPED:
        err_console.print(f"[yellow]note:[/yellow] {len(set(SKIPPED))} picture(s) left out of the grid: "
                          + escape(one_line(SKIPPED[0]))[:200], highlight=False)
    for line in made:
        err_console.print(line, highlight=False)
