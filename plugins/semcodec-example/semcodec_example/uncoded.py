"""``uncoded-analog``: pixels sent straight as symbols, linear MMSE estimation at the receiver.

The textbook analog baseline, and a template for plugin authors. Each colour plane is centred
and scaled to unit variance (its mean and standard deviation ride in the header), consecutive
values are paired into complex symbols, and the whole image is scaled to unit mean energy.
The receiver applies the LMMSE estimator ``conj(h) y / (|h|^2 + N0)`` (unit-variance prior;
``h = 1`` without fading) and undoes the scaling; ``--opt estimator=zf`` uses zero forcing
``y / h`` instead, which shows what the LMMSE shrinkage buys at low SNR. Bandwidth is fixed at k/n = 1/2 (two pixels values per channel use).
"""

from __future__ import annotations

import torch

from semcodec.codec import Codec, OperatingPoint, Option
from semcodec.schema import SIDE, ListOf, Num, Obj
from semcodec.signal import Reconstruction, Signal, Stream

#: Header: H and W (16 bits each), per-plane mean and std (6 x 16-bit floats).
HEADER_BITS = 32 + 6 * 16


class UncodedAnalogCodec(Codec):
    name = "uncoded-analog"
    kind = "baseline"
    needs = "nothing (example plugin)"
    rate = "fixed"  # two pixel values per channel use, whatever --bandwidth says (so it is refused)
    fixed_ratio = 0.5
    uses_design_snr = False  # it sends the same symbols whatever the channel (so --design-snr is refused)
    # A typed option: `--opt estimator=zf`, or `--estimator zf` (flag=True makes it a flag of
    # `encode` and `bench`); `semcodec codecs --options uncoded-analog` lists it.
    options = {"estimator": Option("lmmse", "receiver estimator: lmmse (conj(h) y / (|h|^2 + N0)) or zf (y / h)",
                                   choices=("lmmse", "zf"), flag=True)}
    # What a valid header holds; `semcodec decode` checks a signal file against it before decoding.
    header_schema = Obj({"height": SIDE, "width": SIDE, "mean": ListOf(Num(-1.0, 2.0), 3, 3),
                         "std": ListOf(Num(1e-4, 10.0), 3, 3)})

    def expected_streams(self, header: dict) -> dict[str, int]:
        return {"pixels": (3 * header["height"] * header["width"] + 1) // 2}

    def encode(self, image: torch.Tensor, op: OperatingPoint) -> Signal:
        # ``op.design_snr_db`` is what a transmitter may know; uncoded transmission needs none of it.
        x = image.float()
        mean = x.mean(dim=(1, 2))
        std = x.std(dim=(1, 2), unbiased=False).clamp_min(1e-3)
        # The header carries float16 values: quantise them here so tx and rx agree exactly.
        mean, std = mean.half().float(), std.half().float()
        z = ((x - mean[:, None, None]) / std[:, None, None]).flatten()
        if z.numel() % 2:
            z = torch.cat([z, z.new_zeros(1)])
        # Unit-variance reals, paired: E|s|^2 = 2 E[z^2] / 2 = 1 after the 1/sqrt(2).
        s = torch.view_as_complex(z.reshape(-1, 2).contiguous()) / 2 ** 0.5
        header = {"height": int(x.shape[1]), "width": int(x.shape[2]),
                  "mean": mean.tolist(), "std": std.tolist()}
        return Signal({"pixels": Stream(s, "analog")}, header, HEADER_BITS)

    def decode(self, received) -> Reconstruction:
        hdr = received.header
        h, w = hdr["height"], hdr["width"]
        stream = received.streams["pixels"]
        gain = stream.fading if stream.fading is not None else torch.ones_like(stream.symbols)
        if self.opts["estimator"] == "zf":
            s_hat = stream.symbols / gain
        else:  # LMMSE for unit-variance symbols
            s_hat = stream.symbols * gain.conj() / (gain.abs().square() + stream.noise_var)
        z = torch.view_as_real(s_hat).flatten()[: 3 * h * w] * 2 ** 0.5
        mean = torch.tensor(hdr["mean"])[:, None, None]
        std = torch.tensor(hdr["std"])[:, None, None]
        x = z.reshape(3, h, w) * std + mean
        return Reconstruction(image=x.clamp(0, 1))
