"""What a worker does with a work unit: load the image, run the codec at each missing SNR,
and turn an image that cannot go through into a ``skipped`` record that says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InvalidInput, SemcodecError
from .plan import BenchPlan, WorkerContext, WorkUnit
from .results_file import skipped_record

if TYPE_CHECKING:
    from ..codec import Codec


def run_unit(ctx: WorkerContext, unit: WorkUnit, emit: Callable[[int, dict[str, Any]], None]) -> None:
    """Every missing SNR of ``unit``; ``emit(index, record)`` as each record is made."""
    from ..imageio import check_fits_in_memory, load_image_with_digest

    digest = None
    codec = ctx.codecs[unit.codec_key]
    try:
        # from the header, before the file's bytes are read (the loader reads them whole, to hash them)
        check_fits_in_memory(Path(unit.image_path), codec.bytes_per_pixel)
        image, digest = load_image_with_digest(Path(unit.image_path))
        load_error = None
    except SemcodecError as exc:
        image, load_error = None, str(exc)
    for i in unit.todo:
        placeholder = unit.placeholders[i]
        rec = _attempt(ctx, codec, unit.snrs[i], image, load_error, placeholder, Path(unit.image_path), unit.query)
        # the hash of the bytes decoded (a file replaced since the plan is recorded as what it is)
        rec["dataset"], rec["image"] = ctx.dataset, unit.image_id
        rec["image_sha256"] = digest if digest is not None else placeholder["image_sha256"]
        rec["image_path"], rec["dataset_path"] = placeholder["image_path"], placeholder["dataset_path"]
        emit(i, rec)


def _attempt(plan: "BenchPlan | WorkerContext", codec: "Codec", snr: float, image: Any, load_error: str | None,
             placeholder: dict[str, Any], source: Path, query: str | None = None) -> dict[str, Any]:
    """One transmission's record, or a ``skipped`` record saying why it could not be made."""
    reason = load_error
    if reason is None:
        try:
            result = codec.run(image, snr_db=snr, channel=plan.channel, seed=plan.seed, metrics=plan.metrics,
                               query=query)
        except InvalidInput as exc:  # this image cannot go through this codec (e.g. too large)
            reason = str(exc)
        except MemoryError:
            reason = "out of memory"
        else:
            rec = dict(result.record)
            try:
                if plan.keep_images is not None:
                    rec["files"] = keep(plan, placeholder, result.reconstruction, source)
                return rec
            except InvalidInput as exc:  # its picture cannot be kept where asked: said in a skipped record
                reason = str(exc)
    p = placeholder
    return {**skipped_record(p["dataset"], p["image"], p["codec"], p["snr_db"], p["channel"], p["seed"],
                             p["config"], reason), "provenance": p["provenance"], "query": p.get("query")}


def kept_image_path(root: Path, rec: dict[str, Any]) -> Path:
    """``root/<dataset>/<image>/<codec>-<digest>_<channel>_<snr>dB_s<seed>.png``: one file per record key."""
    digest = str((rec.get("provenance") or {}).get("config_digest", "nocfg"))[:8]
    content = str(rec.get("image_sha256") or "")[:8]
    snr = repr(float(rec["snr_db"])).replace("-", "m")
    query = ""
    if isinstance(rec.get("query"), str):  # one file per question too
        import hashlib

        query = "_q" + hashlib.sha256(rec["query"].encode()).hexdigest()[:8]
    return (root / rec["dataset"] / f"{rec['image']}-{content}"
            / f"{rec['codec']}-{digest}_{rec['channel']}_{snr}dB_s{int(rec['seed'])}{query}.png")


def keep(plan: "BenchPlan | WorkerContext", placeholder: dict[str, Any], recon: Any, source: Path) -> dict[str, str]:
    """Save a reconstruction (and its texts) for grids and the HTML report; returns the paths."""
    import os

    from ..imageio import save_image, write_replacing

    path = kept_image_path(plan.keep_images, placeholder)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(plan.keep_images)
    if not os.path.realpath(path.parent).startswith(root + os.sep):  # a linked folder inside the tree
        raise InvalidInput(f"--keep-images: {path.parent} leads out of {plan.keep_images} (a link); "
                           "not written through")
    save_image(recon.image, path)
    files = {"reconstruction": str(path.resolve()), "source": str(Path(source).resolve())}
    if recon.texts:
        text = json.dumps(recon.texts, indent=1)
        texts = write_replacing(path.with_suffix(".texts.json"), lambda tmp: tmp.write_text(text))
        files["texts"] = str(texts.resolve())
    return files
