"""Metrics, registered like codecs (entry-point group ``semcodec.metrics``).

A metric that cannot be computed honestly on this machine — LPIPS without the real AlexNet
weights, CLIP similarity without CLIP, BLEU for a codec that sends no text — is ``null`` in
the record and its reason goes to ``unavailable``. Nothing is ever estimated or computed on a
random backbone. Image metrics see 8-bit-quantised images, i.e. exactly what a saved PNG holds.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import Tensor

    from .signal import Reconstruction

#: The metrics every record lists (null + reason where they do not apply), as in DESIGN.md.
STANDARD_METRICS = ("psnr", "ms_ssim", "lpips", "clip_cos", "bleu")


class MetricUnavailable(Exception):
    """Raised by a metric that cannot be computed for this input; the message is the reason."""


@dataclass
class MetricInput:
    """What a metric may look at: the source, the reconstruction and the transmitter's texts."""

    source: "Tensor"
    reconstruction: "Reconstruction"
    tx_info: dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base class: ``__call__`` gives the value; ``unavailable_reason`` says, cheaply, why it cannot
    run on this machine at all."""

    name: ClassVar[str] = "metric"
    #: The values this metric can take (``None``: not declared). A record holding one outside
    #: them was not written by this metric (a hand edit, another tool), and a report leaves it out.
    bounds: ClassVar[tuple[float, float] | None] = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this metric cannot run on this machine at all (cheap; ``None`` if it can)."""
        return None

    @classmethod
    def not_applicable(cls, data: "MetricInput") -> str | None:
        """Why this metric does not apply to this transmission (checked first; ``None``: it does)."""
        return None

    def __call__(self, data: MetricInput) -> float:
        raise NotImplementedError


def psnr(a: "Tensor", b: "Tensor") -> float:
    """PSNR in dB of two images in [0, 1] (peak 1); ``inf`` for identical images."""
    import torch

    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _pair(data: MetricInput) -> tuple["Tensor", "Tensor"]:
    from .imageio import quantize

    return quantize(data.source).unsqueeze(0), quantize(data.reconstruction.image.cpu()).unsqueeze(0)


class PSNR(Metric):
    name = "psnr"
    bounds = (0.0, 200.0)  # images in [0, 1]: MSE <= 1; two 8-bit 64 MP images one level apart: ~131 dB
    unit = "dB"

    def __call__(self, data: MetricInput) -> float:
        a, b = _pair(data)
        return psnr(a, b)


class MSSSIM(Metric):
    """MS-SSIM (pytorch-msssim, 5 scales, 11x11 Gaussian window, data range 1)."""

    name = "ms_ssim"
    bounds = (0.0, 1.0)
    MIN_SIDE = 161  # (11 - 1) * 2**4 + 1: five scales need this many pixels

    def __call__(self, data: MetricInput) -> float:
        import hashlib

        a, b = _pair(data)
        if min(a.shape[-2:]) < self.MIN_SIDE:
            raise MetricUnavailable(f"image smaller than {self.MIN_SIDE} px on a side (5 scales)")
        key = hashlib.blake2b(a.numpy().tobytes(), digest_size=16).hexdigest()  # the source's blurs repeat
        return float(ms_ssim(a, b, source_key=key))


#: MS-SSIM's scale weights (Wang, Simoncelli, Bovik 2003), as pytorch-msssim uses them.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


#: The source side of MS-SSIM (blurred x and x² at every scale) of the last few images: a bench
#: scores one source against many reconstructions (SNRs, codecs), so 2 of the 5 blurs repeat.
_SOURCE_STATS: "OrderedDict[tuple, list]" = OrderedDict()
SOURCE_STATS_KEPT = 2


@lru_cache(maxsize=1)
def _gaussian() -> tuple[float, ...]:
    """The 11-tap, sigma 1.5 window (normalised in float32, as pytorch-msssim's)."""
    import torch

    coords = torch.arange(11, dtype=torch.float) - 5
    g = torch.exp(-(coords ** 2) / (2 * 1.5 ** 2))
    return tuple(float(v) for v in g / g.sum())


def _blur(stack: "Tensor") -> "Tensor":
    """The separable Gaussian ("valid" borders) of ``[N, C, H, W]``, as 11 fused multiply-adds of
    shifted views per axis: on a CPU ~9x faster than the grouped convolution it replaces, whose
    sums it reproduces bit for bit (each output is accumulated over the taps in the same order)."""
    g = _gaussian()
    h = stack.shape[-2] - len(g) + 1
    rows = stack[..., 0:h, :] * g[0]
    for k in range(1, len(g)):
        rows.add_(stack[..., k:k + h, :], alpha=g[k])
    w = rows.shape[-1] - len(g) + 1
    out = rows[..., 0:w] * g[0]
    for k in range(1, len(g)):
        out.add_(rows[..., k:k + w], alpha=g[k])
    return out


def _source_stats(x: "Tensor", levels: int) -> list[tuple["Tensor", "Tensor", "Tensor", "Tensor"]]:
    """Per scale: (x, blurred x, its square, the local variance of x)."""
    import torch
    from torch.nn import functional as F

    out = []
    for level in range(levels):
        mu1, xx = _blur(torch.cat([x, x * x], dim=1)).split(x.shape[1], dim=1)
        mu1_sq = mu1.pow(2)
        out.append((x, mu1, mu1_sq, xx - mu1_sq))
        if level < levels - 1:
            x = F.avg_pool2d(x, kernel_size=2, padding=[s % 2 for s in x.shape[2:]])
    return out


def ms_ssim(x: "Tensor", y: "Tensor", data_range: float = 1.0, source_key: str | None = None) -> "Tensor":
    """MS-SSIM of ``[N, C, H, W]`` images, the value of ``pytorch_msssim.ms_ssim`` (11-tap
    Gaussian, sigma 1.5, K = (0.01, 0.03)) at a fraction of its cost: the Gaussian blurs of a
    scale run together, as shifted multiply-adds (:func:`_blur`), the maps are formed in place
    (the same operations in the same order), the first four scales skip the luminance map they
    do not use, and with ``source_key`` (a digest of ``x``) the source's side is reused from the
    last call on it. ``tests/test_metrics.py`` holds it to pytorch-msssim within 1e-6."""
    import torch
    from torch.nn import functional as F

    k1, k2 = 0.01, 0.03
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    c = x.shape[1]
    levels = len(MS_SSIM_WEIGHTS)
    key = None if source_key is None else (source_key, tuple(x.shape), x.dtype, str(x.device), data_range)
    if key is not None and key in _SOURCE_STATS:
        _SOURCE_STATS.move_to_end(key)
        stats = _SOURCE_STATS[key]
    else:
        stats = _source_stats(x, levels)
        if key is not None:
            _SOURCE_STATS[key] = stats
            while len(_SOURCE_STATS) > SOURCE_STATS_KEPT:
                _SOURCE_STATS.popitem(last=False)
    factors = []
    for level, (xs, mu1, mu1_sq, sigma1_sq) in enumerate(stats):
        stack = y.new_empty((y.shape[0], 3 * c, *y.shape[2:]))
        stack[:, :c] = y
        torch.mul(y, y, out=stack[:, c:2 * c])
        torch.mul(xs, y, out=stack[:, 2 * c:])
        mu2, yy, xy = _blur(stack).split(c, dim=1)
        mu2_sq, mu1_mu2 = mu2.pow(2), mu1 * mu2
        # cs = (2 (xy - mu1 mu2) + c2) / ((xx - mu1²) + (yy - mu2²) + c2), written over the blurs
        cs_map = xy.sub_(mu1_mu2).mul_(2).add_(c2).div_(torch.add(sigma1_sq, yy.sub_(mu2_sq)).add_(c2))
        if level < levels - 1:
            factors.append(torch.relu(torch.flatten(cs_map, 2).mean(-1)))
            y = F.avg_pool2d(y, kernel_size=2, padding=[s % 2 for s in y.shape[2:]])
        else:
            ssim_map = ((2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1)) * cs_map
            factors.append(torch.relu(torch.flatten(ssim_map, 2).mean(-1)))
    weights = y.new_tensor(MS_SSIM_WEIGHTS).view(-1, 1, 1)
    return torch.prod(torch.stack(factors, dim=0) ** weights, dim=0).mean()


ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


class LPIPS(Metric):
    """LPIPS (Zhang et al. 2018) with the real AlexNet backbone; lower is better."""

    name = "lpips"
    bounds = (0.0, 100.0)  # a weighted sum of squared unit-feature distances

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from .extras import missing_reason
        from .models.source import torch_hub_dir

        if no_extra := missing_reason(("lpips",), "LPIPS"):
            return no_extra

        path = torch_hub_dir() / "checkpoints" / ALEXNET_FILE
        if not path.is_file():
            return f"AlexNet weights not in the torch cache ({path}); LPIPS is never computed on a random backbone"
        return None

    def __call__(self, data: MetricInput) -> float:
        import torch

        a, b = _pair(data)
        with torch.no_grad():
            return float(_lpips_model()(a * 2 - 1, b * 2 - 1).mean())


@lru_cache(maxsize=1)
def _lpips_model():
    import lpips

    return lpips.LPIPS(net="alex", pretrained=True, verbose=False).eval()


@lru_cache(maxsize=None)
def _metric_instance(name: str) -> Metric:

    return load_metric(name)()


def available_metric_names() -> list[str]:
    from .registry import METRICS, names

    return names(METRICS)


def compute_metrics(
    source: "Tensor", recon: "Reconstruction", tx_info: dict[str, Any], requested: list[str] | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Compute ``requested`` metrics (default: all registered); return ``(values, unavailable)``.

    Every name of :data:`STANDARD_METRICS` appears in ``values``: ``null`` with a reason in
    ``unavailable`` when it is not registered here, not requested or cannot be computed.
    """

    registered = available_metric_names()
    wanted = list(requested) if requested is not None else registered
    values: dict[str, float | None] = {}
    unavailable: dict[str, str] = {}
    data = MetricInput(source=source, reconstruction=recon, tx_info=tx_info)
    for name in dict.fromkeys([*STANDARD_METRICS, *registered, *wanted]):
        values[name] = None
        if name not in registered:
            unavailable[name] = "no installed package registers this metric"
            continue
        if name not in wanted:
            unavailable[name] = "not requested"
            continue
        try:  # a metric that fails (broken model folder, plugin bug) is null with its reason
            metric_cls = load_metric(name)
            reason = metric_cls.not_applicable(data) or metric_cls.unavailable_reason()
            if reason:
                unavailable[name] = reason
                continue
            value = float(_metric_instance(name)(data))
        except MetricUnavailable as exc:
            unavailable[name] = str(exc)
            continue
        except Exception as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            unavailable[name] = f"failed: {type(exc).__name__}: {first}"
            continue
        if math.isnan(value):
            unavailable[name] = "not a number"
            continue
        values[name] = None if math.isinf(value) else value
        if math.isinf(value):
            unavailable[name] = "infinite (identical images)"
    return values, unavailable


def used_text(entry: dict[str, str]) -> str:
    """The receiver's final text of one stream: the corrected one where the codec corrects (even
    when the corrector returned nothing — that empty text is what the generator got), else the
    received one."""
    return entry["corrected"] if "corrected" in entry else entry.get("received", "")


def _text_pairs(data: MetricInput) -> list[tuple[str, str]]:
    texts = data.reconstruction.texts
    if not texts:
        raise MetricUnavailable("codec sends no text")
    return [(used_text(texts[k]), texts[k].get("sent", "")) for k in sorted(texts)]


def _text_metric_reason(name: str) -> str | None:
    from .extras import missing_reason

    return missing_reason(("sacrebleu",), name)


def score_texts(texts: dict[str, dict[str, Any]] | None) -> None:
    """Add, to every text stream that has a sent text, the sentence BLEU and chrF of its received
    and (if any) corrected text against it: ``bleu_received``, ``bleu_corrected``,
    ``chrf_received``, ``chrf_corrected`` (what the channel did and what the corrector did)."""
    if not texts or _text_metric_reason("text scores"):
        return
    import sacrebleu

    for entry in texts.values():
        if "sent" not in entry:
            continue
        for key in ("received", "corrected"):
            if key in entry:
                entry[f"bleu_{key}"] = round(_sentence(sacrebleu.sentence_bleu, entry[key], entry["sent"]), 3)
                entry[f"chrf_{key}"] = round(_sentence(sacrebleu.sentence_chrf, entry[key], entry["sent"]), 3)


def _sentence(score, hyp: str, ref: str) -> float:
    """A sentence score in [0, 100]; identical texts (the empty text included) score 100."""
    return 100.0 if hyp == ref else min(100.0, score(hyp, [ref]).score)


class BLEU(Metric):
    """Sentence BLEU (sacrebleu, exponential smoothing, effective n-gram order; 0–100) of each
    text the receiver ended with (what the generator used) against the text sent, averaged over
    the text streams. Sentence-level with effective order because captions are short: corpus
    BLEU of two identical 1–3 word texts is 0 (no 4-grams), sentence BLEU is 100."""

    name = "bleu"
    bounds = (0.0, 100.0)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return _text_metric_reason(cls.name)

    def __call__(self, data: MetricInput) -> float:
        import sacrebleu

        scores = [_sentence(sacrebleu.sentence_bleu, hyp, ref) for hyp, ref in _text_pairs(data)]
        return float(sum(scores) / len(scores))


class ChrF(Metric):
    """chrF (sacrebleu, character 6-grams; 0–100), the same pairs as :class:`BLEU`: robust to the
    character-level typos an uncoded text stream makes, where BLEU counts a typo as a lost word."""

    name = "chrf"
    bounds = (0.0, 100.0)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return _text_metric_reason(cls.name)

    def __call__(self, data: MetricInput) -> float:
        import sacrebleu

        scores = [_sentence(sacrebleu.sentence_chrf, hyp, ref) for hyp, ref in _text_pairs(data)]
        return float(sum(scores) / len(scores))


class AnswerMatch(Metric):
    """UO-ISC's answer match: 1 when a VQA model answers the user's question (``--query``) alike on
    the original and on the reconstruction (rules by question type, :mod:`semcodec.answer_match`),
    else 0; its mean over a dataset is the answer match rate."""

    name = "answer_match"
    bounds = (0.0, 1.0)

    @classmethod
    def not_applicable(cls, data: "MetricInput") -> str | None:
        if not data.tx_info.get("query"):
            return "no question was asked (encode --query, bench --queries)"
        return None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from .extras import missing_reason as missing_extra
        from .models.source import missing_reason

        return missing_extra(("transformers",), cls.name) or missing_reason("vqa")

    def __call__(self, data: MetricInput) -> float:
        from .answer_match import answers_match
        from .models.captioner import VQA

        question = str(data.tx_info["query"])
        vqa = VQA()
        original = vqa.answer(data.source, question)
        rebuilt = vqa.answer(data.reconstruction.image.cpu(), question)
        return 1.0 if answers_match(question, original, rebuilt) else 0.0


class ClipCos(Metric):
    """Cosine similarity of the CLIP image embeddings of source and reconstruction (-1..1)."""

    name = "clip_cos"
    bounds = (-1.0, 1.0)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from .extras import missing_reason as missing_extra
        from .models.source import missing_reason

        return missing_extra(("transformers",), "clip_cos") or missing_reason("clip")

    def __call__(self, data: MetricInput) -> float:
        from .models.clip import ClipEmbedder

        return ClipEmbedder().cosine(data.source, data.reconstruction.image.cpu())


def load_metric(name: str) -> type[Metric]:
    """The metric class registered as ``name`` in the ``semcodec.metrics`` entry-point group."""
    from .registry import METRICS, load_subclass

    return load_subclass(METRICS, name, Metric)


def check_metrics(metrics: list[str] | None) -> None:
    """Every name in ``metrics`` is a registered metric (else one line naming the known ones)."""
    from .errors import InvalidInput
    from .registry import METRICS, names

    known = names(METRICS)
    for m in metrics or []:
        if m not in known:
            raise InvalidInput(f"unknown metric {m!r} (known: {', '.join(known)})")


@lru_cache(maxsize=None)
def metric_bounds() -> dict[str, tuple[float, float]]:
    """Each registered metric's :attr:`Metric.bounds` (a plugin's too), by the name its values
    are recorded under: a reader of records refuses a value the metric cannot take. A metric
    that fails to load bounds nothing here; it says why when it is used."""
    from .registry import METRICS, names

    bounds = {}
    for name in names(METRICS):
        try:
            cls = load_metric(name)
        except Exception:  # noqa: BLE001 - a broken plugin must not stop records being read
            continue
        if cls.bounds:
            bounds[cls.name] = cls.bounds
    return bounds
