"""``report --html DIR``: one static page with everything a reader needs to judge a bench.

The tables (mean ± 95 % CI, N, decode failures), the metric-vs-SNR curves, the rate–distortion
plot when several budgets were run, the grid of reconstructions when they were kept, and for the
semantic codecs the sent, received and corrected texts side by side. Plain HTML and PNGs beside
it (no network, no framework); a few lines of script only mark, for tests, that every image
loaded.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .tables import Table, aggregate, cell_text, grid, metric_label, plot, rd_plot, row_key

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


MAX_TEXT_ROWS = 2000


def _text(value: Any) -> str:
    """Escaped, with control characters (a tiny model's output may hold any) made visible."""
    return html.escape("".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(value)))


def _texts_html(records: list[dict[str, Any]], labels: dict[tuple, str]) -> str:
    rows = []
    for r in sorted(records, key=lambda r: (r["image"], r["codec"], r["snr_db"])):
        for name, t in sorted((r.get("texts") or {}).items()):
            if not isinstance(t, dict):
                continue
            score = lambda key: "" if t.get(key) is None else f" <span class='note'>({t[key]:.0f})</span>"  # noqa: E731
            cells = [_text(r["image"]), _text(labels.get(row_key(r)[:3], r["codec"])), f"{r['snr_db']:g} dB", _text(name),
                     _text(t.get("sent", "")), _text(t.get("received", "")) + score("bleu_received"),
                     _text(t.get("corrected", "—")) + score("bleu_corrected")]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    if not rows:
        return ""
    more = (f"<p class='note'>the first {MAX_TEXT_ROWS} of {len(rows)} texts; all are in the records</p>"
            if len(rows) > MAX_TEXT_ROWS else "")
    return ("<h2>Texts: sent, received, corrected</h2><p class='note'>(sentence BLEU against the sent text)</p>"
            "<table class='texts'><tr><th>image</th><th>codec</th><th>SNR</th><th>stream</th><th>sent</th>"
            "<th>received</th><th>corrected</th></tr>" + "".join(rows[:MAX_TEXT_ROWS]) + "</table>" + more)


def _img(path: Path, alt: str) -> str:
    return f"<img src=\"{html.escape(quote(path.name), quote=True)}\" alt=\"{html.escape(alt, quote=True)}\">"


def _slug(text: str) -> str:
    """A file-name-safe version of a dataset or channel name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "_"


#: The file that marks a folder as one a semcodec report wrote (so a later report may write there).
MARKER = ".semcodec-report"
#: The names a report writes in its folder.
OUTPUT_NAME = re.compile(r"^(index\.html|snr\.png|(rd|grid)\d+_.*\.png|\.semcodec-report)$")


def _ours(folder: Path) -> bool:
    """Whether ``folder`` is a report folder: marked, or (older releases) holding our own page."""
    if (folder / MARKER).is_file():
        return True
    index = folder / "index.html"
    try:
        with open(index, "rb") as f:
            head = f.read(200) if index.is_file() else b""
    except OSError:
        return False
    return head.startswith(b"<!doctype html>") and b"<title>semcodec report</title>" in head


def check_html_folder(folder: str | Path) -> None:
    """``--html DIR`` writes only into a new or empty folder or one a report wrote before: never
    into a dataset folder (a later bench would take the PNGs for images) nor over a user's files."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InvalidInput(f"--html {folder}: not a folder")
    try:
        entries = sorted(p.name for p in folder.iterdir())
    except OSError as exc:
        raise InvalidInput(f"--html {folder}: cannot list it ({exc.strerror or exc})") from None
    if entries and not _ours(folder):
        raise InvalidInput(f"--html {folder}: the folder holds files no semcodec report wrote (e.g. "
                           f"{entries[0][:60]!r}); give a new or empty folder")


def write_html(records: list[dict[str, Any]], folder: str | Path, metric: str = "psnr",
               images: list[str] | None = None, sources: list[str] | None = None, vs_tables: list | None = None) -> Path:
    """Write ``folder/index.html`` (and its PNGs) for ``records``; returns the page's path. With
    ``vs_tables`` (``report --vs``) the comparison tables follow the tables of means."""
    from ..imageio import fresh_output

    folder = Path(folder)
    check_html_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # every file goes through fresh_output: a link put where one goes is replaced, not written through
        fresh_output(folder / MARKER).write_text("written by semcodec report --html; a later report may write here\n")
    except OSError as exc:
        raise InvalidInput(f"cannot write {folder}: {exc.strerror or exc}") from None
    tables = aggregate(records, metric)
    labels = {(r.codec, r.digest, r.seed): r.label for t in tables for r in t.rows}
    parts = [f"<h1>semcodec report: {html.escape(metric_label(metric))}</h1>"]
    tests = sorted({m for t in tables for r in t.rows for m in r.test_models})
    if tests:
        parts.append("<p style='color:#b00;font-weight:bold'>Rows marked TEST MODELS were made with the test "
                     f"kit's tiny random models ({html.escape(', '.join(tests))}): they are not results.</p>")
    if sources:
        parts.append("<p class='note'>from " + ", ".join(html.escape(s) for s in sources) + "</p>")
    parts.append("<p class='note'>mean ± half-width of the 95 % confidence interval over N images; "
                 "✗N: N images decode_failed (still averaged in)</p>")
    parts += [_table_html(t) for t in tables]
    if vs_tables:
        from .formats import vs_html

        parts.append(f"<h2>Against {html.escape(vs_tables[0].reference)}</h2>" + vs_html(vs_tables))
    curves = plot(tables, folder / "snr.png")
    parts.append(f"<h2>{html.escape(metric_label(metric))} vs SNR</h2>{_img(curves, 'curves')}")
    from .tables import dataset_key

    groups = sorted({(dataset_key(r), r["channel"]) for r in records if r.get("status") != "skipped"})
    for n, (key, channel) in enumerate(groups):
        dataset = key[0]
        sub = [r for r in records if dataset_key(r) == key and r["channel"] == channel]
        budgets = {round(float((r.get("config") or {}).get("bandwidth") or 0), 6) for r in sub}
        if len(budgets) > 1:
            snrs = sorted({float(r["snr_db"]) for r in sub})
            snr = snrs[len(snrs) // 2]
            rd = rd_plot(sub, folder / f"rd{n}_{_slug(dataset)}_{_slug(channel)}.png", snr, metric)
            parts.append(f"<h2>Rate–distortion, {html.escape(dataset)}, {html.escape(channel)}, {snr:g} dB</h2>"
                         + _img(rd, "rate-distortion"))
        if any(isinstance(r.get("files"), dict) for r in sub):
            g = grid(sub, folder / f"grid{n}_{_slug(dataset)}_{_slug(channel)}.png", images, metric)
            parts.append(f"<h2>Reconstructions, {html.escape(dataset)}, {html.escape(channel)}</h2>" + _img(g, "grid"))
    parts.append(_texts_html(records, labels))
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>semcodec report</title>"
            f"<style>{_STYLE}</style><script>{_CHECK_IMAGES}</script></head><body>"
            + "\n".join(parts) + "</body></html>\n")
    from ..imageio import write_replacing

    return write_replacing(folder / "index.html", lambda tmp: tmp.write_text(page))
