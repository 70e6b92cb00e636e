"""``report --vs REF``: gains against a reference, with their uncertainty, from paired images.

For every other codec configuration of a (dataset, channel) table, against the reference row:

- **BD-PSNR** (named after the metric: BD-MS-SSIM, ...): the mean metric difference at equal
  SNR, ``test - ref``, averaged over the SNR range both curves cover;
- **BD-SNR**: the mean SNR saving in dB at equal metric, averaged over the metric range both
  cover (positive: the codec needs less SNR than the reference);
- **bandwidth saving** at equal quality, from a ``--bandwidth`` sweep at one SNR (the rate axis
  in log10, as BD-rate; positive: fewer channel uses than the reference).

Each is Bjøntegaard's integral with piecewise cubic Hermite interpolation (PCHIP), computed by
the ``bjontegaard`` package (its "pchip" method); SNR is already in dB, so that axis takes no log.
A curve whose metric does not rise with SNR (a digital codec's plateau: one MCS at two SNRs) is
made monotone for BD-SNR by keeping only points that improve on every lower SNR — the SNR needed
for a quality is the lowest that reaches it.

Uncertainty: a 95 % interval from a **paired bootstrap over images** (each resample draws N
images with replacement and uses the same draw for both codecs, so image difficulty, shared by
both, cancels), seeded, hence deterministic; the expanded percentile interval (Hesterberg 2015),
since a plain percentile interval covers too rarely with a few dozen images (about 88 % instead
of 95 % at N = 20 in the tests). **Per-SNR paired differences** carry a
Student-t interval on the per-image differences. A decode failure counts at the metric value its
record holds (the reconstruction the receiver showed); a record without the metric is left out.
Curves whose ranges do not overlap are never extrapolated: the comparison says so instead.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import InvalidInput
from .tables import NAMES, UNITS, Row, Table, _preferred, dataset_key, item_key, row_key

BOOTSTRAP = 2000  #: resamples, unless asked otherwise
SEED = 0  #: the bootstrap's seed: the same records give the same intervals
LOWER_IS_BETTER = {"lpips"}

#: metrics derived from a record's metrics: name -> (source metric, function, why null)
DERIVED = {"ms_ssim_db": "ms_ssim"}


def ms_ssim_db(value: float) -> float | None:
    """MS-SSIM in dB, as the JSCC papers plot it: -10 log10(1 - MS-SSIM) (``None`` at 1)."""
    return None if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def add_derived(records: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Records with ``metric`` (a derived one, e.g. ``ms_ssim_db``) added to their ``metrics``;
    others are returned as they are."""
    if metric not in DERIVED:
        return records
    src = DERIVED[metric]
    out = []
    for r in records:
        metrics = r.get("metrics")
        if not isinstance(metrics, dict):
            out.append(r)
            continue
        v = metrics.get(src)
        value = ms_ssim_db(float(v)) if isinstance(v, (int, float)) and math.isfinite(v) else None
        rec = {**r, "metrics": {**metrics, metric: value}}
        if value is None:
            rec["unavailable"] = {**(r.get("unavailable") or {}),
                                  metric: "MS-SSIM is 1 (infinite in dB)" if v is not None else f"no {src}"}
        out.append(rec)
    return out


def metric_name(metric: str) -> str:
    """The metric's name, with "(dB)" where a metric is shown in dB that is not usually so."""
    return NAMES.get(metric, metric) + (" (dB)" if metric in DERIVED else "")


def _unit(metric: str) -> str:
    return UNITS.get(metric, "")


# -- the numbers ---------------------------------------------------------------------------------
@dataclass
class Interval:
    """One gain with its 95 % paired-bootstrap interval; ``value`` is ``None`` with a ``note``
    when it cannot be computed without extrapolating."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n_images: int = 0
    over: list[float] | None = None  # the integration range [from, to] on the base axis
    note: str | None = None
    undefined_resamples: int = 0

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


@dataclass
class Difference:
    """The mean per-image difference (codec - reference) at one SNR, with the Student-t 95 %
    interval on the paired differences (and, for comparison, Welch's unpaired one)."""

    snr_db: float
    mean: float
    low: float | None
    high: float | None
    n: int
    significant: bool
    ci95: float | None
    ci95_unpaired: float | None


@dataclass
class Versus:
    """One codec configuration against the reference in one table."""

    label: str
    codec: str
    reference: str
    n_images: int
    bd_metric: Interval
    bd_snr: Interval
    differences: list[Difference] = field(default_factory=list)
    note: str | None = None


@dataclass
class BandwidthSaving:
    """Bandwidth saved at equal quality at one SNR, from each side's --bandwidth sweep."""

    label: str
    codec: str
    reference: str
    snr_db: float
    budgets: int
    reference_budgets: int
    saving_percent: Interval


@dataclass
class VsTable:
    dataset: str
    channel: str
    metric: str
    reference: str
    bootstrap: int
    seed: int
    rows: list[Versus]
    bandwidth: list[BandwidthSaving] = field(default_factory=list)
    #: decode failures counted, per row label: {snr: count}
    failures: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    snrs: list[float] = field(default_factory=list)

    @property
    def title(self) -> str:
        from .tables import channel_name

        return f"{self.dataset}, {channel_name(self.channel)}: {metric_name(self.metric)} vs {self.reference}"

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        out = asdict(self)
        out["title"] = self.title
        out["paired"] = "bootstrap over images, the same draw for both codecs; 95 % percentile intervals"
        out["decode_failures"] = "counted at the metric value their records hold (what the receiver showed)"
        for row, d in zip(self.rows, out["rows"]):
            for k in ("bd_metric", "bd_snr"):
                d[k]["excludes_zero"] = getattr(row, k).excludes_zero
        for bw, d in zip(self.bandwidth, out["bandwidth"]):
            d["saving_percent"]["excludes_zero"] = bw.saving_percent.excludes_zero
        return out


# -- Bjøntegaard ----------------------------------------------------------------------------------
def _bd_linear(base_ref, value_ref, base_test, value_test) -> np.ndarray | float:
    """Mean of ``test - ref`` over the overlap of the two base ranges (PCHIP, by the
    ``bjontegaard`` package). ``value_*`` may be 2-D (points x resamples) when the base is shared."""
    import bjontegaard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bjontegaard.bd_linear(np.asarray(base_ref, float), np.asarray(value_ref, float),
                                     np.asarray(base_test, float), np.asarray(value_test, float),
                                     "pchip", require_matching_points=False, min_overlap=0)


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    return (float(lo), float(hi)) if hi > lo else None


def monotone(base: np.ndarray, quality: np.ndarray, lower_is_better: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The points of a quality-vs-base curve (base ascending) that improve on every lower base:
    quality strictly rising, so the base needed for a quality is a function of it."""
    q = -quality if lower_is_better else quality
    keep, best = [], -math.inf
    for i, v in enumerate(q):
        if v > best:
            keep.append(i)
            best = v
    return base[keep], quality[keep]


def bd_metric(snr_ref, q_ref, snr_test, q_test) -> float:
    """BD-PSNR (for any metric): mean ``test - ref`` metric at equal SNR over the common SNR range."""
    return float(_bd_linear(snr_ref, q_ref, snr_test, q_test))


def bd_snr(snr_ref, q_ref, snr_test, q_test, lower_is_better: bool = False) -> float | None:
    """BD-SNR: the mean SNR saved (dB) at equal metric over the common metric range; ``None``
    when the metric ranges do not overlap."""
    s_r, m_r = monotone(np.asarray(snr_ref, float), np.asarray(q_ref, float), lower_is_better)
    s_t, m_t = monotone(np.asarray(snr_test, float), np.asarray(q_test, float), lower_is_better)
    if len(m_r) < 2 or len(m_t) < 2:
        return None
    x_r, x_t = (-m_r, -m_t) if lower_is_better else (m_r, m_t)
    if _overlap(x_r, x_t) is None:
        return None
    return -float(_bd_linear(x_r, s_r, x_t, s_t))


def bd_rate_saving(rate_ref, q_ref, rate_test, q_test, lower_is_better: bool = False) -> float | None:
    """Bandwidth saved at equal quality, in percent of the reference's (BD-rate with the sign
    turned: positive = fewer channel uses); ``None`` when the quality ranges do not overlap."""
    import bjontegaard

    def prep(rate, q):
        rate, q = np.asarray(rate, float), np.asarray(q, float)
        order = np.argsort(rate)
        r, m = monotone(rate[order], q[order], lower_is_better)
        return r, (-m if lower_is_better else m)

    r_r, x_r = prep(rate_ref, q_ref)
    r_t, x_t = prep(rate_test, q_test)
    if len(r_r) < 2 or len(r_t) < 2 or _overlap(x_r, x_t) is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rate = bjontegaard.bd_rate(r_r, x_r, r_t, x_t, "pchip", require_matching_points=False, min_overlap=0)
    return -float(rate)


def expanded_level(n: int) -> float:
    """The tail probability of the expanded percentile interval (Hesterberg 2015): a plain 2.5 %
    percentile bootstrap is too narrow for a few dozen images (it misses the t quantile and the
    n/(n-1) of the variance); this widens it to what Student's t would give."""
    from scipy import stats

    if n < 2:
        return 0.025
    return float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * stats.t.ppf(0.975, n - 1)))


def _percentile(values: np.ndarray, n: int) -> tuple[float | None, float | None, int]:
    ok = values[np.isfinite(values)]
    if len(ok) < 10:
        return None, None, int(len(values) - len(ok))
    tail = 100 * expanded_level(n)
    lo, hi = np.percentile(ok, [tail, 100 - tail])
    return float(lo), float(hi), int(len(values) - len(ok))


def draws(n: int, resamples: int = BOOTSTRAP, seed: int = SEED) -> np.ndarray:
    """The bootstrap's image indices (resamples x n): one draw shared by both codecs."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_bd(snr_ref, a_ref, snr_test, a_test, kind: str = "metric", resamples: int = BOOTSTRAP,
                 seed: int = SEED, paired: bool = True, lower_is_better: bool = False) -> Interval:
    """BD (``kind`` "metric" or "snr") of two curves given per image (``a_*``: images x SNRs, the
    same images in the same order for a paired bootstrap) with its 95 % bootstrap interval."""
    s_r, s_t = np.asarray(snr_ref, float), np.asarray(snr_test, float)
    a_r, a_t = np.asarray(a_ref, float), np.asarray(a_test, float)
    n = a_r.shape[0]
    idx_r = draws(n, resamples, seed)
    idx_t = idx_r if paired else draws(a_t.shape[0], resamples, seed + 1)
    m_r, m_t = a_r[idx_r].mean(axis=1), a_t[idx_t].mean(axis=1)  # resamples x SNRs
    over = _overlap(s_r, s_t)
    if kind == "metric":
        if over is None:
            return Interval(None, n_images=n, note="SNR ranges do not overlap")
        value = bd_metric(s_r, a_r.mean(0), s_t, a_t.mean(0))
        boot = np.asarray(_bd_linear(s_r, m_r.T, s_t, m_t.T), float)
        lo, hi, bad = _percentile(boot, n)
        return Interval(value, lo, hi, n, list(over), undefined_resamples=bad)
    value = bd_snr(s_r, a_r.mean(0), s_t, a_t.mean(0), lower_is_better)
    if value is None:
        return Interval(None, n_images=n, note="metric ranges do not overlap")
    boot = np.array([np.nan if (v := bd_snr(s_r, m_r[b], s_t, m_t[b], lower_is_better)) is None else v
                     for b in range(resamples)])
    lo, hi, bad = _percentile(boot, n)
    _, q_r = monotone(s_r, a_r.mean(0), lower_is_better)
    _, q_t = monotone(s_t, a_t.mean(0), lower_is_better)
    rng = (max(q_r.min(), q_t.min()), min(q_r.max(), q_t.max()))
    return Interval(value, lo, hi, n, [float(rng[0]), float(rng[1])], undefined_resamples=bad)


def paired_difference(test: np.ndarray, ref: np.ndarray, snr: float) -> Difference:
    """Mean of the per-image differences with its Student-t 95 % interval (and Welch's unpaired
    interval of the difference of means, for comparison)."""
    from scipy import stats

    test, ref = np.asarray(test, float), np.asarray(ref, float)
    d = test - ref
    n, mean = len(d), float(d.mean())
    if n < 2:
        return Difference(snr, mean, None, None, n, False, None, None)
    half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n))
    v_t, v_r = test.var(ddof=1) / n, ref.var(ddof=1) / n
    se = math.sqrt(v_t + v_r)
    dof = (v_t + v_r) ** 2 / (v_t ** 2 / (n - 1) + v_r ** 2 / (n - 1)) if se > 0 else n - 1
    unpaired = float(stats.t.ppf(0.975, dof) * se) if se > 0 else 0.0
    lo, hi = mean - half, mean + half
    return Difference(snr, mean, lo, hi, n, bool(lo > 0 or hi < 0), half, unpaired)


# -- from records -----------------------------------------------------------------------------------
def _value(rec: dict[str, Any], metric: str) -> float | None:
    v = (rec.get("metrics") or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _per_row(records: Iterable[dict[str, Any]], metric: str) -> dict[tuple, dict[tuple, dict[float, dict[str, dict]]]]:
    """(dataset key, channel) -> (codec, digest, seed) -> SNR -> item -> record (one per item, as
    the tables count it)."""
    out: dict[tuple, dict[tuple, dict[float, dict[str, dict]]]] = {}
    for r in records:
        if r.get("status") == "skipped":
            continue
        cell = (out.setdefault((dataset_key(r), r["channel"]), {}).setdefault(row_key(r, metric)[:3], {})
                .setdefault(float(r["snr_db"]), {}))
        item = item_key(r)
        cell[item] = _preferred(cell[item], r) if item in cell else r
    return out


def _budget(row: Row) -> float | None:
    b = row.config.get("bandwidth")
    return round(float(b), 6) if isinstance(b, (int, float)) else None


def _family(row: Row) -> tuple:
    rest = {k: v for k, v in row.config.items() if k != "bandwidth"}
    return (row.codec, json.dumps(rest, sort_keys=True, default=str), row.seed, tuple(row.test_models))


def reference_rows(table: Table, ref: str) -> list[Row]:
    """The rows REF names: a whole label, a label without its ``[...]`` part, or a codec."""
    for match in (lambda r: r.label == ref, lambda r: r.label.split(" [")[0] == ref, lambda r: r.codec == ref):
        rows = [r for r in table.rows if match(r)]
        if rows:
            return rows
    return []


def _curves(cells: dict[float, dict[str, dict]], items: list[str], metric: str) -> tuple[list[float], np.ndarray]:
    """The SNRs at which every one of ``items`` has a value, and those values (items x SNRs)."""
    snrs = [s for s in sorted(cells) if all(i in cells[s] and _value(cells[s][i], metric) is not None for i in items)]
    a = np.array([[_value(cells[s][i], metric) for s in snrs] for i in items], float).reshape(len(items), len(snrs))
    return snrs, a


def _items(cells: dict[float, dict[str, dict]]) -> set[str]:
    return {i for by_item in cells.values() for i in by_item}


def _span(snrs: list[float]) -> str:
    return f"{min(snrs):g}..{max(snrs):g} dB" if snrs else "no SNR"


def compare(tables: list[Table], records: list[dict[str, Any]], ref: str, resamples: int = BOOTSTRAP,
            seed: int = SEED) -> list[VsTable]:
    """``report --vs REF`` for every table that holds REF (an error when none does, or when
    nothing could be compared)."""
    if not tables:
        raise InvalidInput("--vs: nothing to compare")
    metric = tables[0].metric
    lower = metric in LOWER_IS_BETTER
    grouped = _per_row(records, metric)
    # the tables' dataset names (a folder shown with its path when two share a name)
    keys = sorted(grouped)
    if len(keys) != len(tables):
        raise InvalidInput("--vs: the records do not match their tables")  # not reached: aggregate groups alike
    out: list[VsTable] = []
    missing = []
    for table, key in zip(tables, keys):
        refs = reference_rows(table, ref)
        if not refs:
            missing.append(f"{table.dataset}/{table.channel}: " + ", ".join(sorted({r.label for r in table.rows})))
            continue
        by_budget: dict[float | None, Row] = {}
        for r in refs:
            if _budget(r) in by_budget or len({_family(x) for x in refs}) > 1:
                raise InvalidInput(f"--vs {ref!r} names {len(refs)} configurations in {table.dataset}/{table.channel} "
                                   f"({'; '.join(x.label for x in refs)}): give one label")
            by_budget[_budget(r)] = r
        rows = grouped[key]
        vs = VsTable(table.dataset, table.channel, metric, refs[0].label if len(refs) == 1 else ref, resamples, seed,
                     [], snrs=table.snrs)
        for row in table.rows:
            if any(row is r for r in refs):
                continue
            base = by_budget.get(_budget(row)) if len(by_budget) > 1 else refs[0]
            if base is None:
                vs.notes.append(f"{row.label}: no {ref} row at its bandwidth budget k/n = {_budget(row):g}")
                continue
            vs.rows.append(_versus(row, base, rows, metric, resamples, seed, lower, vs))
        vs.bandwidth = _bandwidth(table, refs, rows, metric, resamples, seed, lower)
        for row in [*refs, *table.rows]:
            failed = {f"{s:g}": c.failed for s, c in sorted(row.cells.items()) if c.failed}
            if failed and row.label not in vs.failures:
                vs.failures[row.label] = failed
        if not any(v.bd_metric.value is not None or v.bd_snr.value is not None or v.differences for v in vs.rows) \
                and not any(b.saving_percent.value is not None for b in vs.bandwidth):
            why = "; ".join(v.note or v.bd_metric.note or "" for v in vs.rows) or "no other codec in the table"
            raise InvalidInput(f"--vs {ref}: nothing to compare in {table.dataset}/{table.channel} ({why})")
        out.append(vs)
    if not out:
        raise InvalidInput(f"--vs {ref!r}: no such codec or configuration (there: {' | '.join(missing)})")
    for vs in out:
        vs.notes += [f"not compared, no {ref} there: {m.split(':')[0]}" for m in missing]
    return out


def _versus(row: Row, ref: Row, rows: dict, metric: str, resamples: int, seed: int, lower: bool,
            vs: VsTable) -> Versus:
    test_cells, ref_cells = rows[(row.codec, row.digest, row.seed)], rows[(ref.codec, ref.digest, ref.seed)]
    items = sorted(_items(test_cells) & _items(ref_cells))
    empty = Interval(None, note="no images in common")
    if not items:
        return Versus(row.label, row.codec, ref.label, 0, empty, empty, note=f"no images in common with {ref.label}")
    s_t, a_t = _curves(test_cells, items, metric)
    s_r, a_r = _curves(ref_cells, items, metric)
    diffs = []
    for s in sorted(set(test_cells) & set(ref_cells)):
        both = [i for i in sorted(set(test_cells[s]) & set(ref_cells[s]))
                if _value(test_cells[s][i], metric) is not None and _value(ref_cells[s][i], metric) is not None]
        if both:
            diffs.append(paired_difference([_value(test_cells[s][i], metric) for i in both],
                                           [_value(ref_cells[s][i], metric) for i in both], s))
    if len(s_t) < 2 or len(s_r) < 2:
        why = f"fewer than 2 SNRs with all {len(items)} common images ({row.label}: {_span(s_t)}, {ref.label}: {_span(s_r)})"
        return Versus(row.label, row.codec, ref.label, len(items), Interval(None, note=why), Interval(None, note=why),
                      diffs, note=why)
    note = None
    if _overlap(np.array(s_t), np.array(s_r)) is None:
        note = f"SNR ranges do not overlap ({row.label}: {_span(s_t)}, {ref.label}: {_span(s_r)}): no BD, nothing extrapolated"
    bdm = bootstrap_bd(s_r, a_r, s_t, a_t, "metric", resamples, seed, lower_is_better=lower)
    bds = bootstrap_bd(s_r, a_r, s_t, a_t, "snr", resamples, seed, lower_is_better=lower)
    if bds.value is None and note is None:
        q_t, q_r = a_t.mean(0), a_r.mean(0)
        bds.note = (f"{metric_name(metric)} ranges do not overlap ({row.label}: {q_t.min():.4g}..{q_t.max():.4g}, "
                    f"{ref.label}: {q_r.min():.4g}..{q_r.max():.4g}): no BD-SNR, nothing extrapolated")
    if note:
        bdm.note = note
        if bds.value is None:
            bds.note = note
    return Versus(row.label, row.codec, ref.label, len(items), bdm, bds, diffs, note)


def _bandwidth(table: Table, refs: list[Row], rows: dict, metric: str, resamples: int, seed: int,
               lower: bool) -> list[BandwidthSaving]:
    """At every SNR where the reference and another configuration each ran two or more
    bandwidth budgets: the bandwidth saved at equal quality."""
    families: dict[tuple, list[Row]] = {}
    for r in table.rows:
        families.setdefault(_family(r), []).append(r)
    ref_family = families.get(_family(refs[0]), [])
    if len(ref_family) < 2:
        return []
    out = []
    for fam, members in families.items():
        if fam == _family(refs[0]) or len(members) < 2:
            continue
        for snr in table.snrs:
            sides = []
            for group in (ref_family, members):
                pts = [(r, rows[(r.codec, r.digest, r.seed)].get(snr, {})) for r in group]
                sides.append([p for p in pts if p[1]])
            if len(sides[0]) < 2 or len(sides[1]) < 2:
                continue
            items = sorted(set.intersection(*[set(c) for _, c in sides[0] + sides[1]]))
            items = [i for i in items if all(_value(c[i], metric) is not None for _, c in sides[0] + sides[1])]
            if not items:
                continue

            def arrays(side):
                q = np.array([[_value(c[i], metric) for _, c in side] for i in items], float)
                k = np.array([[float(c[i]["bandwidth_ratio"]) for _, c in side] for i in items], float)
                return k, q

            (k_r, q_r), (k_t, q_t) = arrays(sides[0]), arrays(sides[1])
            value = bd_rate_saving(k_r.mean(0), q_r.mean(0), k_t.mean(0), q_t.mean(0), lower)
            label = members[0].label.split(" [")[0]
            if value is None:
                iv = Interval(None, n_images=len(items), note="quality ranges do not overlap: nothing extrapolated")
            else:
                idx = draws(len(items), resamples, seed)
                boot = np.array([np.nan if (v := bd_rate_saving(k_r[idx[b]].mean(0), q_r[idx[b]].mean(0),
                                                                 k_t[idx[b]].mean(0), q_t[idx[b]].mean(0), lower)) is None
                                 else v for b in range(resamples)])
                lo, hi, bad = _percentile(boot, len(items))
                iv = Interval(value, lo, hi, len(items), [float(k_t.mean(0).min()), float(k_t.mean(0).max())],
                              undefined_resamples=bad)
            out.append(BandwidthSaving(label, members[0].codec, ref_family[0].label.split(" [")[0], snr,
                                       len(sides[1]), len(sides[0]), iv))
    return out
