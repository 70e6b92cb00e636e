"""BPG + LDPC: the classical separate source-channel chain every semantic paper compares with.

HEVC intra (BPG's core) compresses the image to the largest file that fits the channel-use
budget with the chosen MCS; 5G NR LDPC (codewords of 6144 coded bits, the last shortened;
``--opt code=regular``: the earlier n = 1728 regular codes) protects it; QAM carries it; the receiver demaps soft bits,
decodes every codeword in one batch, and decompresses whatever it ends up with. When codewords
fail, the receiver does what a real one can: it decodes the bits it has, shows the mid-grey
image if the HEVC decoder rejects them, and marks the record ``decode_failed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..codec import Codec, Option
from ..schema import SIDE, Int, Obj, Str
from ..signal import Reconstruction, Signal
from ..source_coding.hevc import CHROMA, DECODE_BYTES_PER_PIXEL, PRESETS, check_declared_size

if TYPE_CHECKING:
    from torch import Tensor

    from ..codec import OperatingPoint
    from ..links.digital import DigitalLink
    from ..signal import Received

#: Header: height, width (16 bits each) + the digital link's MCS index (4) and payload length (24).
SIZE_BITS = 16 + 16
HEADER_BITS = SIZE_BITS + 5 + 24


class BpgLdpcCodec(Codec):
    """HEVC intra + 5G NR (or regular) LDPC + Gray QAM; one digital stream ``image``.

    Options: ``mcs`` (force one, e.g. ``qpsk-1/2``; default: the highest-rate MCS with
    FER < 1e-2 measured on the run's kind of channel — AWGN or Rayleigh — at the design SNR minus
    ``margin_db``, default 1 dB), ``chroma`` (``420`` or ``444``),
    ``preset`` (x265 speed preset, default ``fast``), ``iterations`` (LDPC decoder
    iterations, default 20).
    """

    name = "bpg-ldpc"
    kind = "classical"
    needs = "nothing to download (HEVC via pillow-heif, LDPC built in)"
    options = {
        "mcs": Option(None, "force a modulation and code rate, e.g. qpsk-1/2 (default: chosen from the design SNR)",
                      flag=True),
        "chroma": Option("420", "HEVC chroma subsampling", choices=CHROMA),
        "preset": Option("fast", "x265 speed preset", choices=PRESETS),
        "iterations": Option(20, "LDPC decoder iterations", min=1, max=200),
        "margin_db": Option(1.0, "MCS safety margin below the design SNR (dB)", min=-10.0, max=30.0),
        "code": Option("nr", "channel code: nr (5G NR LDPC, 6144-bit codewords, the papers' baseline) or "
                       "regular (the earlier n = 1728 Gallager codes; kept for one release to re-make old results)",
                       choices=("nr", "regular")),
    }

    decode_bytes_per_pixel = DECODE_BYTES_PER_PIXEL
    stream_kinds = {"image": "digital"}
    header_schema = Obj({"height": SIDE, "width": SIDE, "mcs": Str(16, pattern=r"[a-z0-9]+-[0-9]/[0-9]"),
                         "mcs_index": Int(0, 31), "payload_bytes": Int(0, 2**24 - 1)})

    def expected_streams(self, header: dict) -> dict[str, int | None]:
        """The symbol count the payload length implies for the header's MCS (exactly)."""
        from ..errors import SignalFileError
        from ..links.digital import DigitalLink
        from ..phy.mcs import mcs_index

        link = DigitalLink.from_header(header)
        if mcs_index(link.mcs) != header["mcs_index"]:
            raise SignalFileError("header: mcs and mcs_index disagree")
        return {"image": link.symbols_for(header["payload_bytes"])}

    def provenance_checkpoints(self) -> dict[str, str]:
        """The measured MCS table decides the MCS: its hash is part of what made a record."""
        from importlib import resources

        from ..checkpoints import file_sha256

        from ..phy.mcs import table_path

        return {"mcs_table": file_sha256(Path(str(table_path(str(self.opts["code"])))))}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        from ..source_coding.hevc import HevcEncoder

        self.hevc = HevcEncoder(str(self.opts["chroma"]), str(self.opts["preset"]))
        if self.opts["mcs"]:
            from ..phy.mcs import parse_mcs

            parse_mcs(str(self.opts["mcs"]), str(self.opts["code"]))  # fail early on a bad name

    def link(self, op: "OperatingPoint", fades: int | None) -> "DigitalLink":
        """The digital link for the operating point: ``--opt mcs`` or the choice from the table of
        the channel the link is deployed on, for a frame spanning ``fades`` fading blocks."""
        from ..links.digital import DigitalLink

        # with estimated CSI the receiver works at the SNR its channel estimate leaves
        return DigitalLink.for_design_snr(op.design_snr_db - op.estimation_loss_db, float(self.opts["margin_db"]), self.opts["mcs"],
                                          int(self.opts["iterations"]), op.channel, fades, str(self.opts["code"]))

    def budget(self, height: int, width: int) -> int:
        """Channel uses this image may take, header included: ``floor(bandwidth * 3 H W)``."""
        from ..codec import budget_of

        return budget_of(self, height, width)

    def encode(self, image: "Tensor", op: "OperatingPoint") -> Signal:
        from ..errors import InvalidInput
        from ..signal import header_channel_uses

        h, w = image.shape[-2:]
        if self.budget(h, w) < header_channel_uses(HEADER_BITS):
            raise InvalidInput(f"bpg-ldpc: a {w}x{h} image at k/n {self.bandwidth:.4g} allows {self.budget(h, w)} "
                               f"channel uses, fewer than its {header_channel_uses(HEADER_BITS)}-use header")
        from ..phy.mcs import frame_fades, mcs_list, tabulated_fades

        room = self.budget(h, w) - header_channel_uses(HEADER_BITS)
        # Design for the frame the budget allows (it fills the room but for the last partial
        # codeword: fewer than n symbols, BPSK). On a fading channel a picture whose HEVC file is
        # smaller than that (smooth content, a large budget) sends a shorter frame that spans
        # fewer fades: then design again for the frame actually sent (at most a few rounds: a
        # more robust MCS only lengthens the frame).
        # (5G NR shortens its last codeword, so its frame fills the room; the regular codes may
        # leave up to a codeword unsent)
        slack = 0 if str(self.opts["code"]) == "nr" else mcs_list("regular")[0].n
        fades = frame_fades(max(1, room - slack), op.coherence)
        for _ in range(4):
            link = self.link(op, fades)
            max_bytes = link.capacity_bytes(room)
            fit = self.hevc.fit(image, max_bytes) if max_bytes > 0 else None
            # nothing fits: nothing is sent, the receiver can only show grey
            quality, data = fit if fit is not None else (None, b"")
            spanned = frame_fades(link.symbols_for(len(data)), op.coherence)
            if fades is None or not data or self.opts["mcs"] or tabulated_fades(spanned) >= tabulated_fades(fades):
                break
            fades = spanned
        self.note_transmitter(mcs=link.mcs.name, quality=quality, max_bytes=max_bytes, design_fades=fades)
        tx = link.transmit(data)
        header = {"height": int(h), "width": int(w), **tx.header}
        return Signal({"image": tx.stream}, header, SIZE_BITS + tx.header_bits)

    def decode(self, received: "Received") -> Reconstruction:
        import torch

        from ..links.digital import DigitalLink

        hdr = received.header
        h, w, n_bytes = hdr["height"], hdr["width"], hdr["payload_bytes"]
        grey = torch.full((3, 1, 1), 0.5).expand(3, h, w)  # a view: a header's 64 MP costs no memory here
        link = DigitalLink.from_header(hdr, int(self.opts["iterations"]))
        info = {"mcs": link.mcs.name, "payload_bytes": n_bytes}
        if n_bytes == 0:
            return Reconstruction(grey, "decode_failed", info={**info, "reason": "budget too small for any bitstream"})
        payload = link.receive(received.streams["image"], hdr)
        failed, total = payload.failed_codewords, payload.codewords
        info.update(failed_codewords=failed, codewords=total, crc_ok=payload.crc_ok)
        try:
            image = self.hevc.decode(payload.data)
        except ValueError as exc:
            return Reconstruction(grey, "decode_failed", info={**info, "reason": str(exc)})
        if payload.intact:
            check_declared_size(image, h, w)
        elif tuple(image.shape) != (3, h, w):
            return Reconstruction(grey, "decode_failed", info={**info, "reason": "decoded image has the wrong size"})
        status = "ok" if payload.intact else "decode_failed"
        if failed:
            info["reason"] = f"{failed} of {total} codewords failed; showing the HEVC decode of the corrupted bits"
        elif not payload.crc_ok:
            info["reason"] = ("the payload's CRC does not match (a codeword decoded to a wrong word its parity "
                              "checks accept); showing the HEVC decode of the corrupted bits")
        return Reconstruction(image, status, info=info)
