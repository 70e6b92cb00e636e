"""Rich rendering of report tables (and the JSON/CSV/Markdown data behind them)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

from .app import console


def print_data(table) -> None:
    """A results table at its natural width off a terminal (a pipe or a log has no width to keep:
    cutting numbers to 100 columns would lose data); on a terminal, folded to fit it."""
    if sys.stdout.isatty():
        console.print(table)
        return
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update(width=10_000), table).maximum
    Console(width=max(console.width, width)).print(table)


def render_tables(tables: list) -> None:
    """Each (dataset, channel) table: mean ± 95 % CI per codec configuration and SNR."""
    from rich.table import Table as RichTable

    from ..report.tables import cell_text

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
        print_data(t)
    if tables:
        console.print("mean ± half-width of the 95 % confidence interval over N images", highlight=False)
    superseded = sum(r.superseded for t in tables for r in t.rows)
    if superseded:
        console.print(f"note: {superseded} record(s) repeating an image of a row and SNR (a re-run by another "
                      "version, an edited image) were left out; the one of the current file is kept", highlight=False)
    if any(c.failed for t in tables for r in t.rows for c in r.cells.values()):
        console.print("✗N: N images decode_failed (their reconstruction is still averaged in)")


def render_vs(vs_tables: list) -> None:
    """``report --vs``: Bjøntegaard deltas, paired per-SNR differences, bandwidth saving, notes."""
    from ..report.formats import notes, rich_tables

    for vs in vs_tables:
        for t in rich_tables(vs):
            print_data(t)
        for line in notes(vs):
            console.print(escape(line), highlight=False, soft_wrap=True)


def split_list(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None
