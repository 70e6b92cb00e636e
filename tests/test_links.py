"""The links as building blocks: each transmits one payload as one stream and gets it back, on
its own, without any codec around it; and the operating point a transmitter is given."""

import math

import pytest
import torch

from semcodec.channel import AWGNChannel, NoiselessChannel, RayleighChannel, noise_variance
from semcodec.errors import InvalidInput
from semcodec.links.analog import AnalogLink
from semcodec.links.digital import DigitalLink
from semcodec.links.text import TextLink
from semcodec.signal import Signal, budget_uses, header_channel_uses


def _send(tx, snr_db: float, channel=None, seed: int = 0):
    """One link transmission through a channel; returns the received stream."""
    channel = channel or AWGNChannel()
    received = channel.transmit(Signal({"s": tx.stream}, tx.header, tx.header_bits), snr_db, seed=seed)
    return received.streams["s"]


def test_digital_link_round_trip_and_accounting():
    data = bytes(torch.randint(0, 256, (3000,), generator=torch.Generator().manual_seed(3)).tolist())
    link = DigitalLink.for_design_snr(12.0)
    tx = link.transmit(data)
    assert tx.header == {"mcs": link.mcs.name, "mcs_index": tx.header["mcs_index"], "payload_bytes": len(data)}
    assert tx.stream.kind == "digital" and tx.stream.bits == len(data) * 8
    assert tx.stream.channel_uses == link.symbols_for(len(data))
    assert tx.stream.symbols.abs().square().mean().item() == pytest.approx(1.0, abs=0.02)
    assert link.capacity_bytes(tx.stream.channel_uses) >= len(data)
    rx = DigitalLink.from_header(tx.header)
    got = rx.receive(_send(tx, 12.0), tx.header)
    assert got.data == data and got.failed_codewords == 0 and got.codewords > 0


def test_digital_link_fails_honestly_far_below_its_design_snr():
    data = bytes(range(256)) * 4
    link = DigitalLink.for_design_snr(15.0)
    tx = link.transmit(data)
    got = DigitalLink.from_header(tx.header).receive(_send(tx, -2.0), tx.header)
    assert got.failed_codewords > 0 and got.data != data


def test_digital_link_forced_mcs_and_empty_payload():
    link = DigitalLink.for_design_snr(30.0, forced="bpsk-1/3")
    assert link.mcs.name == "bpsk-1/3"
    tx = link.transmit(b"")
    assert tx.stream.channel_uses == 0 and tx.header["payload_bytes"] == 0
    assert link.receive(_send(tx, 5.0), tx.header).data == b""


@pytest.mark.parametrize("fec", ["none", "ldpc"])
def test_text_link_round_trip_and_length(fec):
    link = TextLink(fec)
    text = "A red bus, parked near the café!"
    tx = link.transmit(text)
    assert tx.header == {"length": len(link.prepare(text))} and tx.header_bits == 16
    assert tx.stream.channel_uses == link.symbols_for(tx.header["length"])
    assert link.receive(_send(tx, 0.0, NoiselessChannel()), tx.header) == link.prepare(text)


def test_uncoded_text_link_makes_typos_at_low_snr_and_ldpc_fixes_them():
    text = "a photo of a dog on a beach " * 4
    plain, coded = TextLink("none"), TextLink("ldpc")
    tx_plain, tx_coded = plain.transmit(text), coded.transmit(text)
    # 3 dB: uncoded QPSK makes ~8 % bit errors; qpsk-1/2 LDPC is 1 dB above its FER < 1e-2 point
    # (at 2 dB, on it, a codeword fails now and then)
    for seed in range(5):
        assert plain.receive(_send(tx_plain, 3.0, seed=seed), tx_plain.header) != plain.prepare(text)
        assert coded.receive(_send(tx_coded, 3.0, seed=seed), tx_coded.header) == coded.prepare(text)


def test_text_link_refuses_an_unknown_fec():
    with pytest.raises(InvalidInput, match="text_fec"):
        TextLink("turbo")


@pytest.fixture(scope="module")
def deep_jscc_net():
    from semcodec.codecs.deep_jscc import choose_checkpoint, load_model

    return load_model(str(choose_checkpoint(1 / 12, 10.0).path), "cpu")


@pytest.mark.parametrize("size", [(64, 96), (61, 90), (33, 47)])
def test_analog_link_keeps_the_budget_and_unit_energy(deep_jscc_net, small_image, size):
    h, w = size
    image = small_image[:, :h, :w]
    link = AnalogLink(deep_jscc_net, 1 / 12, other_header_bits=4)
    tx = link.transmit(image)
    assert tx.header == {"height": h, "width": w}
    uses = tx.stream.channel_uses + header_channel_uses(tx.header_bits + 4)
    assert uses <= budget_uses(1 / 12, h, w)
    assert tx.stream.channel_uses == link.symbols(h, w)
    assert tx.stream.symbols.abs().square().mean().item() == pytest.approx(1.0, rel=1e-4)
    out = link.receive(_send(tx, 0.0, NoiselessChannel()), tx.header)
    assert out.shape == (3, h, w)
    psnr = 10 * math.log10(1 / torch.mean((out - image) ** 2).item())
    assert psnr > 20


def test_analog_link_refuses_a_stream_that_does_not_match_the_header(deep_jscc_net, small_image):
    link = AnalogLink(deep_jscc_net, 1 / 12)
    tx = link.transmit(small_image[:, :64, :96])
    rx = _send(tx, 10.0)
    rx.symbols = rx.symbols[:-3]
    with pytest.raises(InvalidInput, match="does not match the header"):
        link.receive(rx, tx.header)


def test_analog_link_forward_is_the_training_path(deep_jscc_net, small_image):
    """Batches, one SNR per sample, gradients flow; at 40 dB it equals the bench's noiseless path."""
    link = AnalogLink(deep_jscc_net, 1 / 12)
    x = torch.stack([small_image[:, :64, :64], small_image[:, 64:128, :64]])
    out = link.forward(x, torch.tensor([40.0, 40.0]), AWGNChannel(), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.requires_grad
    whole = AnalogLink(deep_jscc_net, (1024 + 32) / (3 * 64 * 64))  # a budget the header does not puncture
    bench = whole.receive(_send(whole.transmit(x[0]), 0.0, NoiselessChannel()), {"height": 64, "width": 64})
    assert torch.allclose(out[0].detach(), bench, atol=0.01)
    noisy = link.forward(x, torch.tensor([40.0, -5.0]), RayleighChannel(), torch.Generator().manual_seed(0))
    err = ((noisy.detach() - x) ** 2).mean(dim=(1, 2, 3))
    assert err[1] > 3 * err[0]  # the second sample really went through -5 dB


def test_noise_variance_is_the_one_db_to_n0_rule():
    assert noise_variance(0.0) == 1.0 and noise_variance(10.0) == pytest.approx(0.1)
    t = noise_variance(torch.tensor([[0.0], [20.0]]))
    assert torch.allclose(t, torch.tensor([[1.0], [0.01]]))


def test_encode_takes_an_explicit_operating_point(small_image):
    from semcodec.codec import load_codec

    codec = load_codec("bpg-ldpc")()
    image = small_image[:, :64, :96]
    with pytest.raises(InvalidInput, match="design SNR"):
        codec.operating_point()
    op = codec.operating_point(9.0)
    assert (op.design_snr_db, op.matched, op.channel_snr_db) == (9.0, True, None)
    signal = codec.encode(image, op)  # no run() around it
    assert signal.header["mcs"] == DigitalLink.for_design_snr(9.0).mcs.name
    designed = load_codec("bpg-ldpc")(design_snr_db=3.0).operating_point(20.0)
    assert (designed.design_snr_db, designed.matched, designed.channel_snr_db) == (3.0, False, None)


def test_the_interleaver_spreads_every_codeword_over_the_frame_and_inverts():
    from semcodec.phy.mcs import deinterleave, interleave

    codewords, per = 5, 7
    sent = interleave(torch.arange(codewords * per), codewords)
    assert torch.equal(deinterleave(sent, codewords), torch.arange(codewords * per))
    # codeword 0's symbols go out every 5th position, from the first to the last fifth of the frame
    assert (sent == 0).nonzero().item() == 0 and (sent == per - 1).nonzero().item() == (per - 1) * codewords


class _OneDeepFade(RayleighChannel):
    """A fading channel with one bad block: |h| = 1 everywhere but symbols 1,024-2,047 at |h| = 0.03."""

    def __call__(self, x, snr_db, generator=None):
        h = torch.ones_like(x)
        h[..., 1024:2048] = 0.03
        return h * x + torch.randn(x.shape, dtype=x.dtype, generator=generator) * math.sqrt(noise_variance(snr_db)), h


def test_a_deep_fade_of_one_block_loses_no_codeword_thanks_to_the_interleaver():
    # 4 codewords of qpsk-1/2 (3,072 symbols each) and a shortened fifth (1,344) over 13,632
    # symbols: one block in a deep fade erases ~1/13 of every codeword's symbols, which rate 1/2
    # corrects; sent back to back, the codeword inside that block would lose a third of its symbols.
    data = bytes(torch.randint(0, 256, (1700,), generator=torch.Generator().manual_seed(5)).tolist())
    link = DigitalLink.for_design_snr(0.0, forced="qpsk-1/2")
    tx = link.transmit(data)
    assert tx.stream.channel_uses == 4 * 3072 + 1344
    got = link.receive(_send(tx, 8.0, _OneDeepFade()), tx.header)
    assert got.failed_codewords == 0 and got.data == data


def test_the_mcs_is_chosen_from_the_table_of_the_channel_the_link_is_deployed_on():
    from semcodec.phy.mcs import ALL_MCS, choose_mcs, measured_fer

    order = [m.name for m in ALL_MCS]
    for snr in (6.0, 10.0, 19.0):
        awgn, fading = choose_mcs(snr, channel="awgn"), choose_mcs(snr, channel="rayleigh")
        assert order.index(fading.name) < order.index(awgn.name)  # fading costs rate at equal mean SNR
        assert measured_fer(fading, snr - 1.0, "rayleigh") < 1e-2
    assert choose_mcs(10.0, channel="noiseless") == choose_mcs(10.0)  # no table of its own: AWGN's
    assert DigitalLink.for_design_snr(10.0, channel="rayleigh").mcs == choose_mcs(10.0, channel="rayleigh")


def test_a_codeword_decoded_to_another_valid_word_is_caught_by_the_crc():
    """The parity checks accept any codeword; the payload's CRC tells the receiver it is the wrong one."""
    from semcodec.phy.mcs import codeword_plan, deinterleave, interleave
    from semcodec.signal import ReceivedStream

    data = bytes(range(256)) * 2
    link = DigitalLink.for_design_snr(0.0, forced="qpsk-1/2")
    sent, other = link.transmit(data), link.transmit(bytes([data[0] ^ 0xFF]) + data[1:])
    per = link.mcs.symbols_per_codeword
    codewords = [n // 2 for _, n in codeword_plan((len(data) + 4) * 8, link.mcs)]
    assert codewords[0] == per and len(codewords) == 2  # one full codeword, one shortened
    mixed = deinterleave(sent.stream.symbols, codewords).clone()
    mixed[:per] = deinterleave(other.stream.symbols, codewords)[:per]  # codeword 0: valid, but another word
    stream = ReceivedStream(symbols=interleave(mixed, codewords), kind="digital", noise_var=1e-3, fading=None,
                            bits=sent.stream.bits)
    got = link.receive(stream, sent.header)
    assert got.failed_codewords == 0 and not got.crc_ok and not got.intact and got.data[0] == data[0] ^ 0xFF
    clean = link.receive(_send(sent, 30.0), sent.header)
    assert clean.crc_ok and clean.intact and clean.data == data
    # the CRC is inside the budget: the stream is what the payload and its 4 bytes take
    assert sent.stream.channel_uses == link.symbols_for(len(data)) and link.capacity_bytes(sent.stream.channel_uses) >= len(data)


@pytest.mark.parametrize("payload", [b"\x00" * 600, b"\xff" * 600, b"the cat sat on the mat. " * 25])
@pytest.mark.parametrize("mcs", ["16qam-3/4", "64qam-3/4"])
def test_low_entropy_payloads_are_scrambled_to_unit_mean_energy(payload, mcs):
    # unscrambled, all-zero 64-QAM sends +3 dB and all-ones -4 dB: the real SNR would not be the nominal one
    link = DigitalLink.for_design_snr(0.0, forced=mcs)
    tx = link.transmit(payload)
    assert tx.stream.symbols.abs().square().mean().item() == pytest.approx(1.0, abs=0.06)
    assert link.receive(_send(tx, 30.0), tx.header).data == payload


def test_a_frame_spanning_few_fades_gets_a_more_robust_mcs():
    from semcodec.phy.mcs import ALL_MCS, choose_mcs, frame_fades, table_key

    order = [m.name for m in ALL_MCS]
    assert frame_fades(98_000, 1024) == 95 and frame_fades(3000, 1024) == 2 and frame_fades(500, 1024) == 1
    assert frame_fades(98_000, None) is None and table_key("rayleigh", 95) == table_key("rayleigh") == "fer_rayleigh"
    assert table_key("rayleigh", 5) == "fer_rayleigh_4" and table_key("awgn", 2) == "fer"
    for snr in (8.0, 14.0, 20.0):
        ranks = [order.index(choose_mcs(snr, channel="rayleigh", fades=f).name) for f in (1, 2, 4, 8, 16, 32)]
        assert ranks == sorted(ranks) and ranks[0] < ranks[-1], (snr, ranks)  # fewer fades: never bolder
