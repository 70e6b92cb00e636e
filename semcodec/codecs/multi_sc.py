"""Multi-SC (the letter's Fig. 1 / Algorithm 1) and its single-text baseline.

Transmitter: FCN finds the main object (largest non-background VOC class); its bounding box,
background masked to mid-grey, is the *slice*, downscaled to at most ``slice_size`` px and sent
through an analog link with a shipped deep-JSCC network (so it arrives noisy) at ``slice_bandwidth`` channel uses per
slice value. The image is split into a ``grid`` x ``grid`` set of sub-images that LLaVA
describes with the letter's fixed query, all in one batched ``generate``. Each caption is its
own text stream. The class label, slice box and sizes ride in the header.

Receiver: hard-decided texts -> BART spelling correction -> one fused description (positions
and class label) -> Stable Diffusion 1.5 + IP-Adapter with the noisy slice as image prompt ->
the source size; ``paste_slice`` pastes the received slice back into its box.
When FCN finds no object, a centre crop is sent instead and the record says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..codec import Option
from ..errors import InvalidInput, SignalFileError
from ..schema import SIDE, Bool, Int, ListOf, Obj, Str
from ..signal import Reconstruction, Signal
from ..checkpoints import CHECKPOINT_BITS
from .deep_jscc import HEADER_SCHEMA as SLICE_HEADER
from .semantic import TEXT_LENGTH_BITS, TEXT_LENGTHS, SemanticCodec

if TYPE_CHECKING:
    from torch import Tensor

    from ..codec import OperatingPoint
    from ..links.analog import AnalogLink
    from ..signal import Received

#: Header beyond the text lengths: H, W, box (4 x 16 bits), slice size (2 x 16), label (5), found (1).
BASE_HEADER_BITS = 2 * 16 + 4 * 16 + 2 * 16 + 5 + 1


@dataclass
class Analysis:
    """The SNR-independent transmitter work for one image."""

    captions: dict[str, str]
    slice: "Tensor"
    box: tuple[int, int, int, int]
    label: str
    label_index: int
    found: bool


def grid_positions(grid: int) -> list[str]:
    """Human-readable positions of the sub-images, row by row."""
    if grid == 1:
        return ["whole image"]
    if grid == 2:
        return ["top left", "top right", "bottom left", "bottom right"]
    return [f"row {r + 1} column {c + 1}" for r in range(grid) for c in range(grid)]


def split_grid(image: "Tensor", grid: int) -> list["Tensor"]:
    h, w = image.shape[-2:]
    rows = [round(i * h / grid) for i in range(grid + 1)]
    cols = [round(j * w / grid) for j in range(grid + 1)]
    return [image[:, rows[r]:rows[r + 1], cols[c]:cols[c + 1]] for r in range(grid) for c in range(grid)]


def fuse(texts: dict[str, str], grid: int, label: str | None) -> str:
    """One description from the sub-image texts, with their positions and the class label."""
    parts = [f"A photo of a {label}." if label else "A photo."]
    for pos, key in zip(grid_positions(grid), sorted(texts, key=lambda k: int(k.split("_")[1]))):
        parts.append(f"{pos}: {texts[key]}" if grid > 1 else texts[key])
    return " ".join(parts)


class MultiScCodec(SemanticCodec):
    """Multi-SC: four captions + an object slice; BART, then SD 1.5 with IP-Adapter."""

    name = "multi-sc"
    needs = "LLaVA, BART, SD 1.5, IP-Adapter, FCN weights (`semcodec models pull multi-sc`); a GPU"
    components = ("segmenter", "captioner", "speller", "generator", "ip_adapter")
    options = {**SemanticCodec.options,
               "grid": Option(2, "sub-images per side", min=1, max=8, flag=True),
               "slice_bandwidth": Option(1 / 12, "k/n of the object slice's analog link", min=1 / 96, max=1.0),
               "slice_size": Option(256, "longest side of the slice sent (px)", min=16, max=1024),
               "ip_scale": Option(0.6, "IP-Adapter image-prompt scale", min=0.0, max=5.0),
               "paste_slice": Option(False, "paste the received slice into the generated image", flag=True),
               "segment_size": Option(520, "segmenter input size (px)", min=64, max=2048)}
    fixed_grid: ClassVar[int | None] = None
    header_schema = Obj({"height": SIDE, "width": SIDE, "text_lengths": TEXT_LENGTHS, "grid": Int(1, 8),
                         "box": ListOf(Int(0, 65535), 4, 4), "label": Str(64), "object_found": Bool(),
                         "slice": SLICE_HEADER})

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        top, left, bottom, right = header["box"]
        if not (top < bottom <= header["height"] and left < right <= header["width"]):
            raise SignalFileError("header.box: not a box inside the image")
        return {**super().expected_streams(header), "slice": None}

    @property
    def grid(self) -> int:
        grid = self.fixed_grid or int(self.opts["grid"])
        if grid < 1 or grid > 8:
            raise InvalidInput("grid must be between 1 and 8")
        return grid

    def _analyse(self, image: "Tensor") -> Analysis:
        from ..models.captioner import LlavaCaptioner
        from ..models.segmenter import Segmenter

        seg = Segmenter(self.device, int(self.opts["segment_size"]), self.name).segment(image)
        h, w = image.shape[-2:]
        if seg is None:  # no object: a centre crop of half the size
            top, left = h // 4, w // 4
            box, label, index, found = (top, left, top + h // 2, left + w // 2), "", 0, False
            slice_ = image[:, box[0]:box[2], box[1]:box[3]].clone()
        else:
            box, label, index, found = seg.box, seg.label, seg.label_index, True
            slice_ = image.clone()
            slice_[:, ~seg.mask] = 0.5  # background masked
            slice_ = slice_[:, box[0]:box[2], box[1]:box[3]]
        captioner = LlavaCaptioner(self.device, int(self.opts["max_new_tokens"]), self.name)
        captions = captioner.caption(split_grid(image, self.grid))
        return Analysis({f"sub_{i}": c for i, c in enumerate(captions)}, slice_, box, label, index, found)

    def provenance_checkpoints(self) -> dict[str, str]:
        from ..checkpoints import file_sha256
        from .deep_jscc import shipped_checkpoints

        bw = float(self.opts["slice_bandwidth"])
        return {f"slice:{c.name}": file_sha256(c.path) for c in shipped_checkpoints()
                if math.isclose(c.bandwidth_ratio, bw, rel_tol=0.02)}

    def check_config(self) -> None:
        from .deep_jscc import choose_checkpoint

        choose_checkpoint(float(self.opts["slice_bandwidth"]), 10.0)  # a shipped network serves the slice

    def _slice_link(self, ckpt) -> "AnalogLink":
        """The slice's analog link: a shipped deep-JSCC network at ``slice_bandwidth``."""
        from .deep_jscc import analog_link

        return analog_link(ckpt, float(self.opts["slice_bandwidth"]), self.device)

    def _slice_for_channel(self, slice_: "Tensor") -> "Tensor":
        from torch.nn import functional as F

        limit = int(self.opts["slice_size"])
        h, w = slice_.shape[-2:]
        if max(h, w) <= limit:
            return slice_
        scale = limit / max(h, w)
        size = (max(4, round(h * scale)), max(4, round(w * scale)))
        return F.interpolate(slice_[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]

    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        from ..checkpoints import header_id
        from .deep_jscc import choose_checkpoint, shipped_checkpoints

        analysis = self.analysed(image, self._analyse)
        streams, lengths, sent = self.text_streams(analysis.captions)
        ckpt = choose_checkpoint(float(self.opts["slice_bandwidth"]), op.design_snr_db)
        try:
            tx = self._slice_link(ckpt).transmit(self._slice_for_channel(analysis.slice))
        except InvalidInput as exc:
            raise InvalidInput(f"{self.name}: the object slice: {exc}") from None
        streams["slice"] = tx.stream
        h, w = image.shape[-2:]
        header = {"height": int(h), "width": int(w), "text_lengths": lengths, "grid": self.grid,
                  "box": list(analysis.box), "label": analysis.label, "object_found": analysis.found,
                  "slice": {**tx.header, "checkpoint": header_id(ckpt, shipped_checkpoints())}}
        self.note_transmitter(texts=sent, object_found=analysis.found, label=analysis.label,
                              box=list(analysis.box))
        bits = BASE_HEADER_BITS + TEXT_LENGTH_BITS * len(lengths) + CHECKPOINT_BITS
        return Signal(streams, header, bits)

    def _receive_slice(self, received: "Received") -> "Tensor":
        from ..checkpoints import receiver_checkpoint
        from .deep_jscc import shipped_checkpoints

        hdr = received.header["slice"]
        ckpt = receiver_checkpoint(self.name, str(hdr["checkpoint"]), None, shipped_checkpoints())
        try:
            return self._slice_link(ckpt).receive(received.streams["slice"], hdr)
        except InvalidInput as exc:
            raise InvalidInput(f"{self.name}: the object slice: {exc}") from None

    def decode(self, received: "Received") -> Reconstruction:
        from torch.nn import functional as F

        from ..models.speller import SpellingCorrector

        hdr = received.header
        rx_texts = self.received_texts(received)
        keys = sorted(rx_texts, key=lambda k: int(k.split("_")[1]))
        corrected = dict(zip(keys, SpellingCorrector(self.device, self.name).correct([rx_texts[k] for k in keys])))
        prompt = fuse(corrected, int(hdr["grid"]), hdr["label"] or None)
        slice_img = self._receive_slice(received)
        image, gen_info = self.generator(ip_adapter=True).generate(
            prompt, (hdr["height"], hdr["width"]), image_prompt=slice_img, seed=int(self.opts["gen_seed"]))
        if self.opts["paste_slice"]:
            top, left, bottom, right = hdr["box"]
            patch = F.interpolate(slice_img[None], size=(bottom - top, right - left), mode="bilinear",
                                  align_corners=False)[0]
            image[:, top:bottom, left:right] = patch
        texts = {k: {"received": rx_texts[k], "corrected": corrected[k]} for k in keys}
        info = {"prompt": prompt, "object_found": hdr["object_found"], "label": hdr["label"], **gen_info}
        if not hdr["object_found"]:
            info["note"] = "FCN found no object: a centre crop was sent as the slice"
        return Reconstruction(image=image, texts=texts, info=info)


class SingleTextCodec(MultiScCodec):
    """The letter's single-text baseline: Multi-SC with one caption of the whole image."""

    name = "single-text"
    needs = MultiScCodec.needs.replace("multi-sc", "single-text")
    fixed_grid = 1
