"""``report --html DIR``: one static page with everything a reader needs to judge a bench.

The tables (mean ± 95 % CI, N, decode failures), the metric-vs-SNR curves, the rate–distortion
plot when several budgets were run, the grid of reconstructions when they were kept, and for the
semantic codecs the sent, received and corrected texts side by side. Plain HTML and PNGs beside
it (no network, no framework); a few lines of script only mark, for tests, that every image
loaded.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .report import Table, aggregate, cell_text, grid, metric_label, plot, rd_plot

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { font-weight: bold; text-align: left; padding: 4px 0; }
img { max-width: 100%; border: 1px solid #eee; }
.texts td { text-align: left; font-family: ui-monospace, monospace; font-size: 12px; }
.note { color: #666; font-size: 13px; }
"""

_CHECK_IMAGES = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-ok', ok ? 'true' : 'false');
  document.body.setAttribute('data-images', String(imgs.length));
});
"""


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{s:g} dB</th>" for s in t.snrs)
    rows = []
    for r in t.rows:
        ns = "/".join(map(str, sorted({c.n for c in r.cells.values()})))
        ratio = "variable" if r.variable_rate else ("-" if r.ratio is None else f"{r.ratio:.4f}")
        cells = "".join(f"<td>{html.escape(cell_text(r.cells.get(s), t.metric))}</td>" for s in t.snrs)
        rows.append(f"<tr><td>{html.escape(r.label)}</td><td>{ratio}</td><td>{ns}</td>{cells}</tr>")
    return (f"<table><caption>{html.escape(t.title)}</caption><tr><th>codec</th><th>k/n</th><th>N</th>{head}</tr>"
            + "".join(rows) + "</table>")


def _texts_html(records: list[dict[str, Any]]) -> str:
    rows = []
    for r in sorted(records, key=lambda r: (r["image"], r["codec"], r["snr_db"])):
        for name, t in sorted((r.get("texts") or {}).items()):
            if not isinstance(t, dict):
                continue
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                r["image"], r["codec"], f"{r['snr_db']:g} dB", name, t.get("sent", ""), t.get("received", ""),
                t.get("corrected", "—"))) + "</tr>")
    if not rows:
        return ""
    return ("<h2>Texts: sent, received, corrected</h2><table class='texts'><tr><th>image</th><th>codec</th>"
            "<th>SNR</th><th>stream</th><th>sent</th><th>received</th><th>corrected</th></tr>"
            + "".join(rows[:2000]) + "</table>")


def write_html(records: list[dict[str, Any]], folder: str | Path, metric: str = "psnr",
               images: list[str] | None = None, sources: list[str] | None = None) -> Path:
    """Write ``folder/index.html`` (and its PNGs) for ``records``; returns the page's path."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot write {folder}: {exc.strerror or exc}") from None
    tables = aggregate(records, metric)
    parts = [f"<h1>semcodec report: {html.escape(metric_label(metric))}</h1>"]
    if sources:
        parts.append("<p class='note'>from " + ", ".join(html.escape(s) for s in sources) + "</p>")
    parts.append("<p class='note'>mean ± half-width of the 95 % confidence interval over N images; "
                 "✗N: N images decode_failed (still averaged in)</p>")
    parts += [_table_html(t) for t in tables]
    curves = plot(tables, folder / "snr.png")
    parts.append(f"<h2>{html.escape(metric_label(metric))} vs SNR</h2><img src='{curves.name}' alt='curves'>")
    for dataset, channel in sorted({(t.dataset, t.channel) for t in tables}):
        sub = [r for r in records if r["dataset"] == dataset and r["channel"] == channel]
        budgets = {round(float((r.get("config") or {}).get("bandwidth") or 0), 6) for r in sub}
        if len(budgets) > 1:
            snrs = sorted({float(r["snr_db"]) for r in sub})
            snr = snrs[len(snrs) // 2]
            rd = rd_plot(sub, folder / f"rd_{dataset}_{channel}.png", snr, metric)
            parts.append(f"<h2>Rate–distortion, {html.escape(dataset)}, {channel}, {snr:g} dB</h2>"
                         f"<img src='{rd.name}' alt='rate-distortion'>")
        if any(isinstance(r.get("files"), dict) for r in sub):
            g = grid(sub, folder / f"grid_{dataset}_{channel}.png", images, metric)
            parts.append(f"<h2>Reconstructions, {html.escape(dataset)}, {channel}</h2>"
                         f"<img src='{g.name}' alt='grid'>")
    parts.append(_texts_html(records))
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>semcodec report</title>"
            f"<style>{_STYLE}</style><script>{_CHECK_IMAGES}</script></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    index = folder / "index.html"
    index.write_text(page)
    return index
