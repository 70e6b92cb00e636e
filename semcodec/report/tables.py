"""Tables and figures from records, grouped honestly.

Records are averaged only when everything that changes their meaning is the same: dataset,
channel, codec, configuration digest (options, bandwidth budget, design SNR, models,
checkpoints, device) and seed. Each (dataset, channel) pair is its own table; inside it, two
rows of one codec that differ in configuration are labelled with what differs. A cell holds the
mean, the number of images N, the standard deviation and the half-width of the 95 % confidence
interval of the mean (Student's t), and how many records were ``decode_failed``. Records made
with the test kit's tiny random models are left out unless asked for: they are not results.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import CONTROL_CHARS, InvalidInput

#: Two-sided 95 % Student t quantiles by degrees of freedom (1..30); 1.96 beyond.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]
FORMATS = ("table", "csv", "markdown", "json")
UNITS = {"psnr": "dB", "ms_ssim_db": "dB"}
NAMES = {"psnr": "PSNR", "ms_ssim": "MS-SSIM", "lpips": "LPIPS", "clip_cos": "CLIP cosine", "bleu": "BLEU",
         "chrf": "chrF", "answer_match": "answer match rate", "ms_ssim_db": "MS-SSIM"}


#: Characters no font draws (C0, DEL, C1): an image id may hold them (ids are file names).


#: A legend lists at most this many curves (400 codecs would cover the axes); it says how many.
MAX_LEGEND = 24


def _legend(ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    title = f"first {MAX_LEGEND} of {len(labels)}" if len(labels) > MAX_LEGEND else None
    ax.legend(handles[:MAX_LEGEND], labels[:MAX_LEGEND], fontsize=7, title=title, title_fontsize=7)


def _tight(fig) -> None:
    """``tight_layout`` without matplotlib's warning when a figure cannot be tightened."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()


def drawn(name: str, most: int = 60) -> str:
    """``name`` as a figure shows it: control characters as "?", and at most ``most`` characters
    (a 4,000-character codec name would push the axes off the page)."""
    name = CONTROL_CHARS.sub("?", str(name))
    return name if len(name) <= most else name[: most - 1] + "…"


def t95(dof: int) -> float:
    return _T95[dof - 1] if 1 <= dof <= len(_T95) else 1.96


@dataclass
class Cell:
    """One (row, SNR) of a table."""

    mean: float | None
    n: int
    failed: int = 0
    std: float | None = None
    ci95: float | None = None


@dataclass
class Row:
    label: str
    codec: str
    ratio: float | None
    cells: dict[float, Cell]
    config: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    variable_rate: bool = False
    seed: int = 0
    test_models: list[str] = field(default_factory=list)
    superseded: int = 0  # older records of an image whose content changed, left out
    bound: bool = False  # a theoretical bound (records with ``bound: true``), drawn dashed


@dataclass
class Table:
    """Mean of one metric per row (codec configuration) and column (SNR) for one dataset and
    channel."""

    metric: str
    dataset: str
    channel: str
    snrs: list[float]
    rows: list[Row]
    images: int = 0
    #: the items are (image, question) pairs (a bench with --queries)
    questions: bool = False

    @property
    def title(self) -> str:
        unit = f" ({UNITS[self.metric]})" if self.metric in UNITS else ""
        return (f"{self.dataset}, {channel_name(self.channel)}: "
                f"mean {NAMES.get(self.metric, self.metric)}{unit} over {self.images} "
                + ("(image, question) pairs" if self.questions else "images"))


def channel_name(channel: str) -> str:
    return {"awgn": "AWGN", "rayleigh": "Rayleigh"}.get(channel, channel)


def metric_label(metric: str) -> str:
    unit = f" ({UNITS[metric]})" if metric in UNITS else ""
    return NAMES.get(metric, metric) + unit


#: The digest shown for records written before provenance existed (grouped by their config).
LEGACY = "no-provenance"


def _digest(rec: dict[str, Any]) -> str:
    prov = rec.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("config_digest"), str):
        return prov["config_digest"]
    return LEGACY + ":" + json.dumps(rec.get("config") or {}, sort_keys=True)


def row_key(rec: dict[str, Any], metric: str | None = None) -> tuple:
    """What one row of a table averages over: codec, configuration digest, seed and (for a metric
    computed by a model, e.g. CLIP) that model."""
    from ..provenance import metric_model_identity

    ident = metric_model_identity(rec, metric) if metric else None
    return (rec["codec"], _digest(rec), int(rec["seed"]), json.dumps(ident, sort_keys=True) if ident else "")


def dataset_key(rec: dict[str, Any]) -> tuple[str, str]:
    """A dataset is its name and, for a folder, where it lies: two folders called ``val`` are
    two datasets."""
    path = rec.get("dataset_path")
    return (rec["dataset"], path if isinstance(path, str) else "")


_CURRENT: dict[str, str | None] = {}


def _current_digest(path: str) -> str | None:
    """The image file's content hash now (as the bench computes it), or ``None`` if it is gone."""
    if path not in _CURRENT:
        from ..bench.plan import file_digest

        _CURRENT[path] = file_digest(Path(path))
    return _CURRENT[path]


def _preferred(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Of two records of one image id: the one made from the file as it is now, else the later."""
    path = new.get("image_path")
    if isinstance(path, str) and old.get("image_sha256") != new.get("image_sha256"):
        now = _current_digest(path)
        if now is not None and old.get("image_sha256") == now:
            return old
    return new


def filter_records(records: Iterable[dict[str, Any]], codecs: list[str] | None = None,
                   channels: list[str] | None = None, datasets: list[str] | None = None,
                   allow_test_models: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Records passing the filters, and how many were left out for being made with test models."""
    out, test_made = [], 0
    for r in records:
        if codecs and r["codec"] not in codecs or channels and r["channel"] not in channels:
            continue
        if datasets and r["dataset"] not in datasets:
            continue
        prov = r.get("provenance") if isinstance(r.get("provenance"), dict) else {}
        if prov.get("test_models") and not allow_test_models:
            test_made += 1
            continue
        out.append(r)
    return out, test_made


def aggregate(records: Iterable[dict[str, Any]], metric: str = "psnr") -> list[Table]:
    """One :class:`Table` per (dataset, channel); ``skipped`` records are not averaged."""
    by_table: dict[tuple[tuple[str, str], str], dict[tuple, list[dict[str, Any]]]] = {}
    for r in records:
        if r.get("status") == "skipped":
            continue
        group = row_key(r, metric)
        by_table.setdefault((dataset_key(r), r["channel"]), {}).setdefault(group, []).append(r)
    names = [d for (d, _), _ in by_table.items()]
    tables = []
    for ((dataset, path), channel), groups in sorted(by_table.items()):
        if path and sum(1 for n, p in dict.fromkeys(names) if n == dataset) > 1:
            dataset = f"{dataset} ({path})"  # two folders of one name: say which
        rows, snrs, images = [], set(), set()
        for (codec, digest, seed, _), recs in sorted(groups.items()):
            cfg = recs[0].get("config") or {}
            by_snr: dict[float, dict[str, dict[str, Any]]] = {}
            superseded = 0
            for r in recs:  # one record per item and SNR: of an edited image, the current version
                cell = by_snr.setdefault(float(r["snr_db"]), {})
                item = item_key(r)
                superseded += item in cell
                cell[item] = _preferred(cell[item], r) if item in cell else r
            snrs |= set(by_snr)
            cells = {snr: _cell(list(rs.values()), metric) for snr, rs in by_snr.items()}
            images |= {i for rs in by_snr.values() for i, r in rs.items()
                       if isinstance(r["metrics"].get(metric), (int, float))}
            tests = sorted({m for r in recs for m in ((r.get("provenance") or {}).get("test_models") or [])})
            ratios = [r["bandwidth_ratio"] for r in recs if isinstance(r.get("bandwidth_ratio"), (int, float))]
            variable = any(r.get("rate") == "variable" for r in recs)
            label = codec + (f" (designed {cfg['design_snr_db']:g} dB)" if cfg.get("design_snr_db") is not None else "")
            if seed:
                label += f" seed {seed}"
            rows.append(Row(label, codec, statistics.fmean(ratios) if ratios else None, cells, cfg, digest, variable,
                            seed, tests, superseded, any(r.get("bound") is True for r in recs)))
        _disambiguate(rows)
        for row in rows:
            if row.test_models:
                row.label += " (TEST MODELS: not results)"
            if row.bound:  # a theoretical bound is never read as a codec that wins
                row.label += " (bound)"
        rows.sort(key=lambda r: (r.label.split(" [")[0], r.ratio or 0.0, r.label))
        asked = any(r.get("query") for recs in groups.values() for r in recs)
        tables.append(Table(metric, dataset, channel, sorted(snrs), rows, len(images), asked))
    return tables


def item_key(rec: dict[str, Any]) -> str:
    """What one averaged item is: an image, or an (image, question) pair under ``--queries``."""
    query = rec.get("query")
    return rec["image"] if not isinstance(query, str) else f"{rec['image']} | {query}"


def _cell(recs: list[dict[str, Any]], metric: str) -> Cell:
    vals = [r["metrics"].get(metric) for r in recs]
    vals = [float(v) for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
    failed = sum(r.get("status") == "decode_failed" for r in recs)
    if not vals:
        return Cell(None, 0, failed)
    mean = statistics.fmean(vals)
    if len(vals) < 2:
        return Cell(mean, 1, failed)
    std = statistics.stdev(vals)
    return Cell(mean, len(vals), failed, std, t95(len(vals) - 1) * std / math.sqrt(len(vals)))


def _disambiguate(rows: list[Row]) -> None:
    """Rows that share a label get what differs between their configurations appended."""
    by_label: dict[str, list[Row]] = {}
    for row in rows:
        by_label.setdefault(row.label, []).append(row)
    for same in by_label.values():
        if len(same) < 2:
            continue
        flat = [_flatten(r.config) for r in same]
        keys = sorted({k for f in flat for k in f if len({json.dumps(g.get(k)) for g in flat}) > 1})
        for row, f in zip(same, flat):
            shown = ", ".join(f"{k}={_short(f.get(k))}" for k in keys)
            if not shown:
                shown = "no provenance" if row.digest.startswith(LEGACY) else f"models {row.digest[:6]}"
            row.label += f" [{shown}]"


def _flatten(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}." if k != "options" else prefix))
        else:
            out[prefix + k] = v
    return out


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# -- renderings -----------------------------------------------------------------------------------
def _fmt(v: float | None, metric: str) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if abs(v) >= 10 or metric in ("psnr", "ms_ssim_db", "bleu", "chrf") else f"{v:.4f}"


def to_json(tables: list[Table]) -> str:
    return json.dumps([{**asdict(t), "title": t.title,
                        "rows": [{**asdict(r), "cells": {f"{s:g}": asdict(c) for s, c in r.cells.items()}}
                                 for r in t.rows]} for t in tables], indent=1, default=str)


def to_csv(tables: list[Table]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["dataset", "channel", "codec", "label", "config_digest", "seed", "requested_design_snr_db", "test_models",
                "k_n", "snr_db", "metric", "mean", "n", "std", "ci95", "decode_failed"])
    for t in tables:
        for r in t.rows:
            for s in t.snrs:
                c = r.cells.get(s)
                if c is not None:
                    w.writerow([t.dataset, t.channel, r.codec, r.label,
                                "" if r.digest.startswith(LEGACY) else r.digest[:16], r.seed,
                                r.config.get("design_snr_db"), " ".join(r.test_models), _ratio(r), f"{s:g}",
                                t.metric, c.mean, c.n, c.std, c.ci95, c.failed])
    return buf.getvalue()


def _ratio(r: Row) -> str:
    return "variable" if r.variable_rate else ("-" if r.ratio is None else f"{r.ratio:.4f}")


def cell_text(c: Cell | None, metric: str, markup: bool = False) -> str:
    if c is None or c.mean is None:
        return "-"
    text = _fmt(c.mean, metric) + (f" ±{_fmt(c.ci95, metric)}" if c.ci95 is not None else "")
    if c.failed:
        text += f" [red]✗{c.failed}[/red]" if markup else f" ✗{c.failed}"
    return text


def to_markdown(tables: list[Table]) -> str:
    out = []
    for t in tables:
        out.append(f"**{t.title}** (mean ± 95 % CI; ✗N: N images decode_failed)\n")
        out.append("| codec | k/n | N | " + " | ".join(f"{s:g} dB" for s in t.snrs) + " |")
        out.append("|---|---|---|" + "---|" * len(t.snrs))
        for r in t.rows:
            ns = sorted({c.n for c in r.cells.values()})
            out.append(f"| {r.label} | {_ratio(r)} | {'/'.join(map(str, ns))} | "
                       + " | ".join(cell_text(r.cells.get(s), t.metric) for s in t.snrs) + " |")
        out.append("")
    return "\n".join(out)


def plot(tables: list[Table], path: str | Path) -> Path:
    """Metric vs SNR: one panel per (dataset, channel), one line per row, error bars = 95 % CI,
    ticks at the measured SNRs, a title saying what was averaged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not tables:
        raise InvalidInput("nothing to plot")
    if not any(c.mean is not None for t in tables for r in t.rows for c in r.cells.values()):
        raise InvalidInput(f"no {tables[0].metric} values to plot in these records")
    fig, axes = plt.subplots(1, len(tables), figsize=(6.2 * len(tables), 4.4), squeeze=False)
    markers = "osD^v<>ph*"
    for ax, t in zip(axes[0], tables):
        for i, r in enumerate(t.rows):
            xs = [s for s in t.snrs if s in r.cells and r.cells[s].mean is not None]
            ax.errorbar(xs, [r.cells[s].mean for s in xs], yerr=[r.cells[s].ci95 or 0.0 for s in xs],
                        marker=None if r.bound else markers[i % len(markers)], capsize=2,
                        linestyle="--" if r.bound else "-", color="0.3" if r.bound else None,
                        label=drawn(f"{r.label}, k/n={_ratio(r)}"))
            for s in xs:
                if r.cells[s].failed:
                    ax.annotate(f"✗{r.cells[s].failed}", (s, r.cells[s].mean), textcoords="offset points",
                                xytext=(4, 4), fontsize=7, color="red")
        if len(t.snrs) <= MAX_SNR_TICKS:  # else matplotlib's own ticks: 3,000 labels would be ink
            ax.set_xticks(t.snrs)
        ax.set_xlabel("channel SNR, Es/N0 (dB)")
        ax.set_ylabel(metric_label(t.metric))
        budgets = {round(float(r.config["bandwidth"]), 6) for r in t.rows
                   if isinstance(r.config.get("bandwidth"), (int, float)) and not r.bound}
        ax.set_title(drawn(t.title, 120) + (f", k/n = {_ratio_text(min(budgets))}" if len(budgets) == 1 else ""), fontsize=9)
        ax.grid(True, alpha=0.3)
        _legend(ax)
    _tight(fig)
    return _save(fig, plt, path)


# -- pictures ---------------------------------------------------------------------------------------
def _one_table(records: list[dict[str, Any]], what: str) -> tuple[str, str]:
    pairs = sorted({(dataset_key(r), r["channel"]) for r in records})
    if len(pairs) != 1:
        shown = ", ".join(f"{d[0]}{' (' + d[1] + ')' if d[1] else ''}/{c}" for d, c in pairs)
        raise InvalidInput(f"{what} shows one dataset and channel; these records hold {shown}: use --dataset "
                           "and --channel (or separate files)")
    return pairs[0][0][0], pairs[0][1]


def _ratio_text(r: float) -> str:
    inv = 1 / r if r else 0
    return f"1/{round(inv)}" if r and abs(inv - round(inv)) < 0.05 * inv else f"{r:.3g}"


def rd_plot(records: list[dict[str, Any]], path: str | Path, snr: float, metric: str = "psnr") -> Path:
    """Rate–distortion at one SNR: the metric against the measured bandwidth ratio k/n, one line
    per codec (each point a bandwidth budget), as CompressAI plots rate–distortion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    at = [r for r in records if r.get("status") != "skipped" and float(r["snr_db"]) == float(snr)]
    if not at:
        raise InvalidInput(f"no records at {snr:g} dB for the rate–distortion plot (--rd-snr)")
    dataset, channel = _one_table(at, "--rd")
    (table,) = aggregate(at, metric)
    lines: dict[str, list[tuple[float, float, float]]] = {}
    keys: dict[tuple, str] = {}
    for row in table.rows:
        cell = row.cells.get(float(snr))
        if cell is None or cell.mean is None or row.ratio is None:
            continue
        # one line per configuration apart from the budget (each point one --bandwidth)
        rest = {k: v for k, v in row.config.items() if k != "bandwidth"}
        key = (row.codec, json.dumps(rest, sort_keys=True, default=str), row.seed, tuple(row.test_models))
        base = row.label.split(" [")[0]
        if key not in keys:
            same = sum(1 for k in keys if k[0] == row.codec)
            keys[key] = base if not same else f"{base} #{same + 1}"
        lines.setdefault(keys[key], []).append((row.ratio, cell.mean, cell.ci95 or 0.0, cell.failed))
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    # ticks at the budgets asked for (--bandwidth); points sit at the measured ratios
    ratios = sorted({float((r.get("config") or {}).get("bandwidth") or 0) for r in at} - {0.0})
    if not lines:
        raise InvalidInput(f"no {metric} values at {snr:g} dB to plot")
    for i, (label, pts) in enumerate(sorted(lines.items())):
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="osD^v<>"[i % 7],
                    capsize=2, label=drawn(label))
        for x, y, _, failed in pts:
            if failed:  # as the tables' ✗N: images that failed to decode, still averaged in
                ax.annotate(f"✗{failed}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color="red")
    ax.set_xscale("log")
    ax.set_xticks(ratios)
    ax.set_xticklabels([_ratio_text(r) for r in ratios])
    ax.minorticks_off()
    ax.set_xlabel("bandwidth ratio k/n (ticks: budgets; points: measured channel uses / 3HW)")
    ax.set_ylabel(metric_label(metric))
    ax.set_title(f"{drawn(dataset)}, {drawn(channel_name(channel))}, {snr:g} dB: {NAMES.get(metric, metric)} vs bandwidth "
                 f"({table.images} images)", fontsize=9)
    ax.grid(True, alpha=0.3)
    _legend(ax)
    _tight(fig)
    return _save(fig, plt, path)


def _save(fig, plt, path: str | Path, dpi: int = 150) -> Path:
    from ..imageio import write_replacing

    def write(tmp: Path) -> None:
        # a paper's PDF wants TrueType fonts (Type 3 is refused by some publishers); SVG keeps its text
        with plt.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"}):
            fig.savefig(tmp, dpi=dpi)

    try:  # a link in its place is replaced, not written through; an earlier figure survives a failure
        return write_replacing(path, write)
    finally:
        plt.close(fig)


#: Notes of the pictures left out of the last grid (a kept file truncated, not an image, too large).
SKIPPED: list[str] = []


def _thumb(path: Any, width: int = 240):
    """A thumbnail of the image file ``path``, or ``None`` (noted in :data:`SKIPPED`) when it is
    not a regular, readable image under the pixel limit: one bad file never stops the grid."""
    from ..errors import SemcodecError
    from ..imageio import open_rgb

    if not isinstance(path, str) or "\x00" in path or len(path) > 4096:
        SKIPPED.append(f"not a file name: {path!r}"[:120])
        return None
    try:
        im = open_rgb(path)
    except (SemcodecError, ValueError) as exc:
        SKIPPED.append(str(exc))
        return None
    return im.resize((width, max(1, round(im.height * width / im.width))))


#: A grid shows at most this many SNR columns (spread over the range): 3,000 columns of thumbnails
#: would take gigabytes and show nothing; the title says how many of how many.
MAX_GRID_COLUMNS = 12
#: ... and at most this many rows (image x codec configuration).
MAX_GRID_ROWS = 24
#: The SNR axis labels every SNR up to this many; beyond, matplotlib places its ticks.
MAX_SNR_TICKS = 24


def spread(values: list, most: int) -> list:
    """At most ``most`` of ``values`` (sorted), evenly spread and always the first and last."""
    if len(values) <= most:
        return list(values)
    return [values[round(i * (len(values) - 1) / (most - 1))] for i in range(most)]


def grid(records: list[dict[str, Any]], path: str | Path, images: list[str] | None = None,
         metric: str = "psnr") -> Path:
    """Reconstructions side by side: for each chosen image a block of rows (one per codec
    configuration), columns = SNRs, the original at the left, the metric under each cell. Needs
    records from ``bench --keep-images``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kept = [r for r in records if isinstance(r.get("files"), dict) and isinstance(r["files"].get("reconstruction"), str)
            and r["files"]["reconstruction"]]
    if not kept:
        raise InvalidInput("no kept reconstructions in these records: run the bench with --keep-images DIR")
    dataset, channel = _one_table(kept, "--grid")
    available = sorted({r["image"] for r in kept})
    chosen = images or available[:2]
    missing = [i for i in chosen if i not in available]
    if missing:
        raise InvalidInput(f"--images: no kept reconstructions of {', '.join(missing)} "
                           f"(kept: {', '.join(available[:8])}{'…' if len(available) > 8 else ''})")
    (table,) = aggregate(kept, metric)
    label_of = {(row.codec, row.digest, row.seed): row.label for row in table.rows}
    current = {}
    for r in kept:  # per image and row and SNR, the record of the image as it is now
        key = (r["image"], row_key(r)[:3], float(r["snr_db"]))
        current[key] = _preferred(current[key], r) if key in current else r
    kept = list(current.values())
    snrs = spread(table.snrs, MAX_GRID_COLUMNS)  # a column per SNR, a few of them when there are many
    every_row = [(img, label) for img in chosen for label in [row.label for row in table.rows]]
    rows = every_row[:MAX_GRID_ROWS]  # 500 configurations would be a poster, not a figure
    index = {(r["image"], label_of.get(row_key(r)[:3]), float(r["snr_db"])): r for r in kept}
    fig, axes = plt.subplots(len(rows), len(snrs) + 1, figsize=(2.2 * (len(snrs) + 1), 1.9 * len(rows)),
                             squeeze=False)
    for i, (img, label) in enumerate(rows):
        source = next((r["files"].get("source") for r in kept if r["image"] == img and r["files"].get("source")), None)
        ax = axes[i][0]
        thumb = _thumb(source) if isinstance(source, str) and (i == 0 or rows[i - 1][0] != img) else None
        if thumb is not None:
            ax.imshow(thumb)
            ax.set_title(f"{drawn(img, 40)} (original)", fontsize=7)
            ax.set_ylabel(drawn(label, 40), fontsize=6)
        else:
            ax.axis("off")
            ax.text(0.98, 0.5, drawn(label, 40), fontsize=6, ha="right", va="center", transform=ax.transAxes)
        for j, snr in enumerate(snrs):
            ax = axes[i][j + 1]
            rec = index.get((img, label, snr))
            thumb = _thumb(rec["files"]["reconstruction"]) if rec is not None else None
            if thumb is not None:
                ax.imshow(thumb)
                value = rec["metrics"].get(metric)
                unit = f" {UNITS[metric]}" if metric in UNITS else ""
                ax.set_xlabel("-" if value is None else f"{_fmt(value, metric)}{unit}"
                              + (" ✗" if rec.get("status") == "decode_failed" else ""), fontsize=7)
            else:
                ax.axis("off")
            if i == 0:
                ax.set_title(f"{snr:g} dB", fontsize=8)
    for row_axes in axes:
        for ax in row_axes:
            ax.set_xticks([])
            ax.set_yticks([])
    shown = ", ".join(([f"{len(snrs)} of {len(table.snrs)} SNRs"] if len(snrs) < len(table.snrs) else [])
                      + ([f"the first {len(rows)} of {len(every_row)} rows"] if len(rows) < len(every_row) else []))
    shown = f" ({shown})" if shown else ""
    fig.suptitle(f"{drawn(dataset)}, {drawn(channel_name(channel))}: reconstructions, {NAMES.get(metric, metric)} "
                 f"under each{shown}", fontsize=9)
    _tight(fig)
    return _save(fig, plt, path, dpi=110)
