"""What a bench is: the plan (images x codecs x SNRs, the channel, where results go) and the
picklable work units it is cut into, one image through one codec at every missing SNR.

Plain data and the record placeholders only: the runner (:mod:`.runner`) decides what is
missing, the executors (:mod:`.executors`) say where units run, the worker (:mod:`.worker`)
runs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from ..codec import Codec
    from ..data import DatasetImage


@dataclass
class BenchPlan:
    """A bench to run: what to send, and where the results go."""

    dataset: str
    images: list["DatasetImage"]
    codecs: dict[str, "Codec"]
    snrs: list[float]
    channel: Any
    seed: int = 0
    metrics: list[str] | None = None
    out: Path = Path("results.jsonl")
    keep_images: Path | None = None  # save every reconstruction (and received texts) here
    #: image id -> the users' questions about it (``--queries``); a query-driven codec runs once
    #: per question, the others once per image
    queries: dict[str, list[str]] | None = None

    def questions(self, image_id: str, codec: "Codec") -> list[str | None]:
        """The questions asked of ``codec`` on ``image_id``: with ``--queries`` every codec runs once
        per question on the images asked about (``answer_match`` compares its reconstruction's
        answer; only a query-driven codec is told the question); without, ``[None]`` (no question;
        a query-driven codec then has nothing to do)."""
        if self.queries is None:
            return [] if codec.takes_query else [None]
        return list(self.queries.get(image_id, []))  # an image nobody asked about is not benched

    def items(self) -> Iterator[tuple["DatasetImage", str, float]]:
        for image in self.images:
            for name in self.codecs:
                for snr in self.snrs:
                    yield image, name, snr

    @property
    def total(self) -> int:
        per_image = sum(len(self.questions(im.id, c)) for im in self.images for c in self.codecs.values())
        return per_image * len(self.snrs)


def _placeholder(plan: BenchPlan, image: "DatasetImage", codec: "Codec", snr: float,
                 image_sha256: str | None, query: str | None = None) -> dict[str, Any]:
    return {"dataset": plan.dataset, "image": image.id, "codec": codec.name, "snr_db": float(snr), "query": query,
            "channel": plan.channel.label, "seed": plan.seed, "config": codec.config(),
            "provenance": codec.provenance(plan.metrics), "image_sha256": image_sha256,
            # the folder the user named, not where a symbolic link points
            "image_path": os.path.abspath(image.path), "dataset_path": os.path.dirname(os.path.abspath(image.path))}


def file_digest(path: Path) -> str | None:
    """sha256 (16 hex) of a file's bytes, or ``None`` when it cannot be read (the load says why)
    or is not a regular file (:func:`semcodec.data.sha256` never reads a FIFO or a device)."""
    from ..data import sha256

    try:
        return sha256(path)[:16]
    except (OSError, ValueError):
        return None


@dataclass
class WorkUnit:
    """What one worker does at a time: one image through one codec configuration at every SNR
    still missing. The codec's SNR-independent transmitter work (HEVC sizes, segmentation,
    captions) is cached per image inside the codec, so it is done once per unit; heavy models
    load once per worker, never per unit.

    Picklable (it crosses to worker processes and Ray actors): ids, paths and the records'
    placeholders, no tensors."""

    uid: int
    image_id: str
    image_path: str
    codec_key: str
    snrs: list[float]
    placeholders: list[dict[str, Any]]
    #: indices into ``snrs`` still to do (a retried unit skips what a dead worker delivered)
    todo: list[int]
    #: the user's question, for a query-driven codec
    query: str | None = None


@dataclass
class WorkerContext:
    """A worker's codecs, channel and settings (built once per worker)."""

    dataset: str
    codecs: dict[str, "Codec"]
    channel: Any
    seed: int
    metrics: list[str] | None
    keep_images: Path | None


def context_of(plan: BenchPlan) -> WorkerContext:
    return WorkerContext(plan.dataset, plan.codecs, plan.channel, plan.seed, plan.metrics, plan.keep_images)
