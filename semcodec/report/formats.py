"""Paper-ready renderings of the report: LaTeX (booktabs), a CSV laid out for pgfplots, and the
``--vs`` comparison as text, markdown, CSV, HTML and JSON.

Every number of a ``--vs`` rendering comes from :mod:`.comparison`'s objects; the JSON
holds all of them (and more: the unpaired intervals, the integration ranges)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

from .comparison import Interval, VsTable, metric_name
from ..errors import InvalidInput
from .tables import NAMES, UNITS, Table, _fmt, _ratio, channel_name, metric_label, to_json

SIGNIFICANT = "*"


def bd_name(metric: str) -> str:
    return "BD-" + NAMES.get(metric, metric)


def _num(v: float | None, metric: str | None = None, digits: int = 2, sign: bool = True) -> str:
    if v is None:
        return "-"
    if metric is not None and metric not in ("psnr", "ms_ssim_db", "bleu", "chrf") and abs(v) < 10:
        digits = 4
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def interval_text(iv: Interval, metric: str | None = None, digits: int = 2) -> str:
    if iv.value is None:
        return "n/a"
    text = _num(iv.value, metric, digits)
    if iv.low is not None:
        text += f" [{_num(iv.low, metric, digits)}, {_num(iv.high, metric, digits)}]"
    return text


def _over(iv: Interval, unit: str, metric: str | None = None) -> str:
    if not iv.over:
        return "-"
    lo, hi = iv.over
    f = (lambda v: _fmt(v, metric)) if metric else (lambda v: f"{v:g}")
    return f"{f(lo)}..{f(hi)}{(' ' + unit) if unit else ''}"


def bd_headers(metric: str) -> tuple[str, str]:
    unit = UNITS.get(metric)
    return (f"{bd_name(metric)}{' (' + unit + ')' if unit else ''}", "BD-SNR (dB saved)")


def notes(vs: VsTable) -> list[str]:
    """The lines that say how to read a --vs table and what could not be computed."""
    out = [f"{bd_name(vs.metric)}: mean {metric_name(vs.metric)} difference (codec - {vs.reference}) at equal SNR; "
           f"BD-SNR: mean SNR saved at equal {metric_name(vs.metric)} (+ = less SNR than {vs.reference}); "
           f"Bjøntegaard integral, PCHIP, over the range both curves cover; [95 % paired bootstrap over images "
           f"(expanded percentile), {vs.bootstrap} resamples, seed {vs.seed}]"]
    if vs.failures:
        where = "; ".join(f"{label}: " + ", ".join(f"{n} at {s} dB" for s, n in by_snr.items())
                          for label, by_snr in vs.failures.items())
        out.append(f"decode failures counted at the {metric_name(vs.metric)} their records hold (the reconstruction "
                   f"the receiver showed): {where}")
    for v in vs.rows:
        for name, iv in ((bd_name(vs.metric), v.bd_metric), ("BD-SNR", v.bd_snr)):
            if iv.value is None and iv.note:
                out.append(f"{v.label}: {name} not computed: {iv.note}")
            if iv.undefined_resamples:
                out.append(f"{v.label}: {name} undefined in {iv.undefined_resamples} of {vs.bootstrap} resamples "
                           "(ranges stopped overlapping); the interval is over the rest")
    for b in vs.bandwidth:
        if b.saving_percent.value is None and b.saving_percent.note:
            out.append(f"{b.label} at {b.snr_db:g} dB: bandwidth saving not computed: {b.saving_percent.note}")
    return out + vs.notes


def difference_text(d, metric: str) -> str:
    text = _num(d.mean, metric)
    if d.ci95 is not None:
        text += f" ±{_num(d.ci95, metric, sign=False)}"
    return text + (SIGNIFICANT if d.significant else "")


# -- text (rich) -----------------------------------------------------------------------------------
def rich_tables(vs: VsTable) -> list:
    """The --vs tables as rich tables: Bjøntegaard deltas, per-SNR paired differences, bandwidth."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    head_m, head_s = bd_headers(vs.metric)
    title = f"{vs.title}: Bjøntegaard deltas"
    bd = RichTable(title=title, min_width=len(title) + 4)
    for name in ("codec", "N", head_m + " [95 %]", "over SNR", head_s + " [95 %]", f"over {metric_name(vs.metric)}"):
        bd.add_column(name, justify="left" if name == "codec" else "right", overflow="fold")
    for v in vs.rows:
        bd.add_row(escape(v.label), str(v.n_images), interval_text(v.bd_metric, vs.metric), _over(v.bd_metric, "dB"),
                   interval_text(v.bd_snr), _over(v.bd_snr, UNITS.get(vs.metric, ""), vs.metric))
    out = [bd]
    title = f"{vs.title}: paired difference per SNR (mean ± 95 % t interval; {SIGNIFICANT}: excludes 0)"
    diff = RichTable(title=title, min_width=len(title) + 4)
    diff.add_column("codec", overflow="fold")
    diff.add_column("N", justify="right")
    for s in vs.snrs:
        diff.add_column(f"{s:g} dB", justify="right", overflow="fold")
    for v in vs.rows:
        by = {d.snr_db: d for d in v.differences}
        ns = sorted({d.n for d in v.differences})
        diff.add_row(escape(v.label), "/".join(map(str, ns)),
                     *[difference_text(by[s], vs.metric) if s in by else "-" for s in vs.snrs])
    out.append(diff)
    if vs.bandwidth:
        title = f"{vs.title}: bandwidth saved at equal {metric_name(vs.metric)} (BD-rate, log k/n)"
        bw = RichTable(title=title, min_width=len(title) + 4)
        for name in ("codec", "SNR", "budgets", "N", "saving (%) [95 %]"):
            bw.add_column(name, justify="left" if name == "codec" else "right")
        for b in vs.bandwidth:
            bw.add_row(escape(b.label), f"{b.snr_db:g} dB", f"{b.budgets} vs {b.reference_budgets}",
                       str(b.saving_percent.n_images), interval_text(b.saving_percent, digits=1))
        out.append(bw)
    return out


# -- markdown, csv, json, html ----------------------------------------------------------------------
def vs_markdown(vs_tables: list[VsTable]) -> str:
    out = []
    for vs in vs_tables:
        head_m, head_s = bd_headers(vs.metric)
        out += [f"**{vs.title}: Bjøntegaard deltas**\n", f"| codec | N | {head_m} [95 %] | over SNR | {head_s} [95 %] | "
                f"over {metric_name(vs.metric)} |", "|---|---|---|---|---|---|"]
        for v in vs.rows:
            out.append(f"| {v.label} | {v.n_images} | {interval_text(v.bd_metric, vs.metric)} | {_over(v.bd_metric, 'dB')} | "
                       f"{interval_text(v.bd_snr)} | {_over(v.bd_snr, UNITS.get(vs.metric, ''), vs.metric)} |")
        out += ["", f"**{vs.title}: paired difference per SNR** (mean ± 95 % t interval; {SIGNIFICANT}: excludes 0)\n",
                "| codec | " + " | ".join(f"{s:g} dB" for s in vs.snrs) + " |", "|---|" + "---|" * len(vs.snrs)]
        for v in vs.rows:
            by = {d.snr_db: d for d in v.differences}
            out.append(f"| {v.label} | " + " | ".join(difference_text(by[s], vs.metric) if s in by else "-"
                                                     for s in vs.snrs) + " |")
        if vs.bandwidth:
            out += ["", f"**{vs.title}: bandwidth saved at equal quality**\n", "| codec | SNR | N | saving (%) [95 %] |",
                    "|---|---|---|---|"]
            out += [f"| {b.label} | {b.snr_db:g} dB | {b.saving_percent.n_images} | "
                    f"{interval_text(b.saving_percent, digits=1)} |" for b in vs.bandwidth]
        out += [""] + [f"- {n}" for n in notes(vs)] + [""]
    return "\n".join(out)


VS_CSV_FIELDS = ["dataset", "channel", "metric", "reference", "codec", "label", "quantity", "snr_db", "value", "low",
                 "high", "n", "excludes_zero", "over_from", "over_to", "note"]


def vs_csv(vs_tables: list[VsTable]) -> str:
    """One row per number: bd_metric, bd_snr, bandwidth_saving_percent, paired_difference."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(VS_CSV_FIELDS)
    for vs in vs_tables:
        base = [vs.dataset, vs.channel, vs.metric, vs.reference]
        for v in vs.rows:
            for name, iv in (("bd_metric", v.bd_metric), ("bd_snr", v.bd_snr)):
                w.writerow(base + [v.codec, v.label, name, "", iv.value, iv.low, iv.high, iv.n_images, iv.excludes_zero,
                                   *(iv.over or ["", ""]), iv.note or ""])
            for d in v.differences:
                w.writerow(base + [v.codec, v.label, "paired_difference", f"{d.snr_db:g}", d.mean, d.low, d.high, d.n,
                                   d.significant, "", "", ""])
        for b in vs.bandwidth:
            iv = b.saving_percent
            w.writerow(base + [b.codec, b.label, "bandwidth_saving_percent", f"{b.snr_db:g}", iv.value, iv.low, iv.high,
                               iv.n_images, iv.excludes_zero, *(iv.over or ["", ""]), iv.note or ""])
    return buf.getvalue()


def json_with_vs(tables: list[Table], vs_tables: list[VsTable]) -> str:
    return json.dumps({"tables": json.loads(to_json(tables)),
                       "vs": [dict(vs.as_dict(), notes_text=notes(vs)) for vs in vs_tables]}, indent=1, default=str)


def vs_html(vs_tables: list[VsTable]) -> str:
    parts = []
    for vs in vs_tables:
        head_m, head_s = bd_headers(vs.metric)
        e = html.escape
        rows = "".join(f"<tr><td>{e(v.label)}</td><td>{v.n_images}</td><td>{e(interval_text(v.bd_metric, vs.metric))}</td>"
                       f"<td>{e(_over(v.bd_metric, 'dB'))}</td><td>{e(interval_text(v.bd_snr))}</td>"
                       f"<td>{e(_over(v.bd_snr, UNITS.get(vs.metric, ''), vs.metric))}</td></tr>" for v in vs.rows)
        parts.append(f"<table class='vs'><caption>{e(vs.title)}: Bjøntegaard deltas [95 % paired bootstrap]</caption>"
                     f"<tr><th>codec</th><th>N</th><th>{e(head_m)}</th><th>over SNR</th><th>{e(head_s)}</th>"
                     f"<th>over {e(metric_name(vs.metric))}</th></tr>{rows}</table>")
        head = "".join(f"<th>{s:g} dB</th>" for s in vs.snrs)
        rows = []
        for v in vs.rows:
            by = {d.snr_db: d for d in v.differences}
            rows.append(f"<tr><td>{e(v.label)}</td>" + "".join(
                f"<td>{e(difference_text(by[s], vs.metric)) if s in by else '-'}</td>" for s in vs.snrs) + "</tr>")
        parts.append(f"<table class='vs'><caption>{e(vs.title)}: paired difference per SNR (mean ± 95 % t interval; "
                     f"{SIGNIFICANT}: excludes 0)</caption><tr><th>codec</th>{head}</tr>{''.join(rows)}</table>")
        if vs.bandwidth:
            rows = "".join(f"<tr><td>{e(b.label)}</td><td>{b.snr_db:g} dB</td><td>{b.saving_percent.n_images}</td>"
                           f"<td>{e(interval_text(b.saving_percent, digits=1))}</td></tr>" for b in vs.bandwidth)
            parts.append(f"<table class='vs'><caption>{e(vs.title)}: bandwidth saved at equal quality (%)</caption>"
                         f"<tr><th>codec</th><th>SNR</th><th>N</th><th>saving [95 %]</th></tr>{rows}</table>")
        parts.append("<ul class='note'>" + "".join(f"<li>{e(n)}</li>" for n in notes(vs)) + "</ul>")
    return "\n".join(parts)


# -- LaTeX --------------------------------------------------------------------------------------------
_TEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "±": r"$\pm$", "✗": "F", "ø": r"{\o}", "−": "-"}


def tex(text: str) -> str:
    return "".join(_TEX.get(c, c) for c in str(text))


def _m(v: str) -> str:
    """A number in math mode (so the minus is a minus)."""
    return "-" if v in ("-", "n/a") else f"${v}$"


def _tex_interval(iv: Interval, metric: str | None = None, digits: int = 2) -> str:
    if iv.value is None:
        return "n/a"
    text = _m(_num(iv.value, metric, digits))
    if iv.low is not None:
        text += f" [{_m(_num(iv.low, metric, digits))}, {_m(_num(iv.high, metric, digits))}]"
    return text


def _tabular(caption: str, spec: str, head: list[str], rows: list[list[str]], pre: str = "", label: str = "") -> str:
    out = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{caption}}}"]
    if label:
        out.append(rf"\label{{{label}}}")
    out += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    if pre:
        out.append(pre)
    out += [" & ".join(head) + r" \\", r"\midrule"]
    out += [" & ".join(r) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def to_latex(tables: list[Table], vs_tables: list[VsTable] | None = None) -> str:
    """booktabs tables (``\\usepackage{booktabs}``): the means per SNR and, with --vs, the
    Bjøntegaard deltas and the paired per-SNR differences."""
    out = ["% semcodec report: \\usepackage{booktabs}"]
    for t in tables:
        n = len(t.snrs)
        head = ["Codec", "$k/n$"] + [_m(f"{s:g}") for s in t.snrs]
        pre = rf" & & \multicolumn{{{n}}}{{c}}{{channel SNR (dB)}} \\ \cmidrule(lr){{3-{n + 2}}}"
        rows = []
        for r in t.rows:
            cells = []
            for s in t.snrs:
                c = r.cells.get(s)
                if c is None or c.mean is None:
                    cells.append("-")
                    continue
                text = _m(_fmt(c.mean, t.metric)) + (rf"\,$\pm$\,{_fmt(c.ci95, t.metric)}" if c.ci95 is not None else "")
                cells.append(text + (rf"\textsuperscript{{F{c.failed}}}" if c.failed else ""))
            rows.append([tex(r.label), _ratio(r)] + cells)
        caption = (tex(t.title) + r": mean $\pm$ half-width of the 95\,\% confidence interval"
                   + (r"; F$N$: $N$ images failed to decode (their reconstruction averaged in)"
                      if any(c.failed for r in t.rows for c in r.cells.values()) else ""))
        out.append(_tabular(caption, "l r " + "r" * n, head, rows, pre,
                            f"tab:{_slug(t.dataset)}-{_slug(t.channel)}-{_slug(t.metric)}"))
    for vs in vs_tables or []:
        head_m, head_s = bd_headers(vs.metric)
        rows = [[tex(v.label), str(v.n_images), _tex_interval(v.bd_metric, vs.metric), _tex_interval(v.bd_snr)]
                for v in vs.rows]
        caption = (tex(vs.title) + r": Bj{\o}ntegaard deltas (PCHIP) over the range both cover "
                   rf"[95\,\% paired bootstrap over the $N$ images, {vs.bootstrap} resamples]")
        out.append(_tabular(caption, "l r r r", ["Codec", "$N$", tex(head_m), tex(head_s)], rows,
                            label=f"tab:{_slug(vs.dataset)}-{_slug(vs.channel)}-{_slug(vs.metric)}-bd"))
        n = len(vs.snrs)
        rows = []
        for v in vs.rows:
            by = {d.snr_db: d for d in v.differences}
            cells = []
            for s in vs.snrs:
                d = by.get(s)
                if d is None:
                    cells.append("-")
                    continue
                text = _num(d.mean, vs.metric) + (rf" \pm {_num(d.ci95, vs.metric, sign=False)}" if d.ci95 is not None else "")
                cells.append(f"${text}{'^{*}' if d.significant else ''}$")
            rows.append([tex(v.label)] + cells)
        pre = rf" & \multicolumn{{{n}}}{{c}}{{channel SNR (dB)}} \\ \cmidrule(lr){{2-{n + 1}}}"
        caption = (tex(vs.title) + rf": paired difference to {tex(vs.reference)} per SNR, mean $\pm$ 95\,\% "
                   r"Student-$t$ interval on the per-image differences; $^{*}$: the interval excludes 0")
        out.append(_tabular(caption, "l " + "r" * n, ["Codec"] + [_m(f"{s:g}") for s in vs.snrs], rows, pre,
                            f"tab:{_slug(vs.dataset)}-{_slug(vs.channel)}-{_slug(vs.metric)}-diff"))
        if vs.bandwidth:
            rows = [[tex(b.label), _m(f"{b.snr_db:g}"), str(b.saving_percent.n_images),
                     _tex_interval(b.saving_percent, digits=1)] for b in vs.bandwidth]
            out.append(_tabular(tex(vs.title) + r": bandwidth saved at equal quality (\%, BD-rate on $\log k/n$)",
                                "l r r r", ["Codec", "SNR (dB)", "$N$", r"saving (\%)"], rows))
        out.append("\n".join("% " + n for n in notes(vs)) + "\n")
    return "\n".join(out)


# -- pgfplots -------------------------------------------------------------------------------------------
def to_pgfplots(tables: list[Table], vs_tables: list[VsTable] | None = None) -> str:
    """One CSV, one line per SNR, columns per configuration (mean, ci95, failed, and with --vs the
    paired difference to the reference and its interval), for
    ``\\addplot table[x=snr_db, y=<col>, col sep=comma] {file.csv};`` (missing values: nan)."""
    if len(tables) != 1:
        shown = ", ".join(f"{t.dataset}/{t.channel}" for t in tables)
        raise InvalidInput(f"--format pgfplots writes one dataset and channel; these records hold {shown}: use "
                           "--dataset and --channel")
    (t,) = tables
    vs = next((v for v in vs_tables or [] if v.dataset == t.dataset and v.channel == t.channel), None)
    names: dict[str, str] = {}
    for r in t.rows:
        slug = _slug(r.label) or r.codec
        base, k = slug, 2
        while slug in names.values():
            slug, k = f"{base}-{k}", k + 1
        names[r.label] = slug
    header = ["snr_db"]
    for r in t.rows:
        header += [names[r.label], f"{names[r.label]}_ci95", f"{names[r.label]}_failed"]
    diffs = {v.label: {d.snr_db: d for d in v.differences} for v in (vs.rows if vs else [])}
    for label in diffs:
        header += [f"{names[label]}_diff", f"{names[label]}_diff_ci95", f"{names[label]}_diff_significant"]
    buf = io.StringIO()
    buf.write(f"# {t.title}; k/n: " + ", ".join(f"{names[r.label]}={_ratio(r)}" for r in t.rows)
              + (f"; _diff: paired difference to {vs.reference} (95 % t interval)" if vs else "") + "\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    g = lambda v: "nan" if v is None else f"{v:.6g}"  # noqa: E731
    for s in t.snrs:
        line = [f"{s:g}"]
        for r in t.rows:
            c = r.cells.get(s)
            line += [g(c.mean if c else None), g(c.ci95 if c else None), str(c.failed if c else 0)]
        for label, by in diffs.items():
            d = by.get(s)
            line += [g(d.mean if d else None), g(d.ci95 if d else None), str(int(d.significant)) if d else "nan"]
        w.writerow(line)
    return buf.getvalue()


FORMATS = ("latex", "pgfplots")


def render(fmt: str, tables: list[Table], vs_tables: list[VsTable] | None) -> str:
    """``--format`` for the paper formats, and for every format when --vs is given."""
    vs_tables = vs_tables or []
    if fmt == "latex":
        return to_latex(tables, vs_tables)
    if fmt == "pgfplots":
        return to_pgfplots(tables, vs_tables)
    if fmt == "json":
        return json_with_vs(tables, vs_tables)
    if fmt == "markdown":
        from .tables import to_markdown

        return to_markdown(tables) + "\n" + vs_markdown(vs_tables)
    if fmt == "csv":
        return vs_csv(vs_tables)  # one row per compared number; the means are in the plain --format csv
    raise InvalidInput(f"--format {fmt!r} with --vs: use table, markdown, json, csv, latex or pgfplots")
