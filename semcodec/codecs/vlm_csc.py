"""VLM-CSC (Jiang et al., IEEE TWC 2025), as compared in the Multi-SC letter.

BLIP captions the image; the caption crosses the channel as a text stream; Stable Diffusion 1.5
generates the image from the received text alone (no image prompt). The paper's memory module
(MED) and noise-attention module (NAM) are *not* part of this codec: it is the
caption -> channel -> diffusion chain the letter uses as a baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..signal import Reconstruction, Signal
from ..schema import SIDE, Obj
from .semantic import TEXT_LENGTH_BITS, TEXT_LENGTHS, SemanticCodec

if TYPE_CHECKING:
    from torch import Tensor

    from ..codec import OperatingPoint
    from ..signal import Received


class VlmCscCodec(SemanticCodec):
    """BLIP caption -> text stream -> SD 1.5 (text only)."""

    name = "vlm-csc"
    needs = "BLIP and SD 1.5 weights (`semcodec models pull vlm-csc`); a GPU"
    components = ("blip", "generator")
    uses_design_snr = False  # a caption, uncoded or at a fixed LDPC rate: nothing depends on the SNR
    header_schema = Obj({"height": SIDE, "width": SIDE, "text_lengths": TEXT_LENGTHS})

    def _analyse(self, image: "Tensor") -> str:
        from ..models.captioner import BlipCaptioner

        return BlipCaptioner(self.device, int(self.opts["max_new_tokens"]), self.name).caption([image])[0]

    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        caption = self.analysed(image, self._analyse)
        streams, lengths, sent = self.text_streams({"caption_0": caption})
        h, w = image.shape[-2:]
        self.note_transmitter(texts=sent)
        header = {"height": int(h), "width": int(w), "text_lengths": lengths}
        return Signal(streams, header, 2 * 16 + TEXT_LENGTH_BITS)

    def decode(self, received: "Received") -> Reconstruction:
        hdr = received.header
        texts = self.received_texts(received)
        image, info = self.generator(ip_adapter=False).generate(
            texts["caption_0"], (hdr["height"], hdr["width"]), seed=int(self.opts["gen_seed"]))
        return Reconstruction(image=image, texts={k: {"received": v} for k, v in texts.items()},
                              info={"prompt": texts["caption_0"], **info})
