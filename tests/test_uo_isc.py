"""UO-ISC on the tiny kit (tiny CLIPSeg laid out as CIDAS/clipseg-rd64-refined, tiny LLaVA as VQA and
relevance VLM): training steps, the transmission chain, the payload arithmetic, the query's effect.
Nothing here measures quality."""

import json
import math
import os

import pytest
import torch

from conftest import assert_clean_error, call_cli

from semcodec.channel import AWGNChannel, NoiselessChannel

LAYERS = (1, 2, 3, 4)
QUESTIONS = ["what is in the picture?", "how many birds are there?"]


@pytest.fixture(scope="module")
def kit(tiny_models, kodak_dir, tmp_path_factory):
    """A checkpoint from the real training path (CLI, both phases, relevance loss on), 4 steps."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("uo")
    images = folder / "images"
    images.mkdir()
    for name in ("kodim05", "kodim23"):
        Image.open(kodak_dir / f"{name}.png").resize((192, 128)).save(images / f"{name}.png")
    queries = folder / "q.jsonl"
    queries.write_text("".join(json.dumps({"image": i, "question": q}) + "\n"
                               for i in ("kodim05", "kodim23") for q in QUESTIONS))
    ckpt = folder / "uo.safetensors"
    code, out, err = call_cli("train", "uo-isc", "--out", ckpt, "--images", images, "--queries", queries,
                              "--steps", "4", "--phase2-at", "0.5", "--batch", "2", "--layers", "1,2,3,4",
                              "--width", "8", "--save-every", "2")
    assert code == 0, err
    return {"folder": folder, "images": images, "queries": queries, "ckpt": ckpt}


def _codec(kit, **opts):
    from semcodec.codec import load_codec

    return load_codec("uo-isc")(checkpoint=str(kit["ckpt"]), **opts)


def test_the_card_says_how_it_was_trained(kit):
    card = json.loads(kit["ckpt"].with_suffix(".json").read_text())
    assert card["steps_done"] == 4 and [h["phase"] for h in card["history"]] == ["1", "2"]
    assert card["history"][1]["critic_loss"] is not None  # the discriminator step ran
    assert card["payload_bits_per_image"] == 4 * 485 * (64 // 32) * 6  # the note's 23,280 at reduce_dim 64
    assert card["command"].startswith("semcodec train uo-isc") and card["samples"] == 4


def test_a_step_of_each_phase_lowers_its_loss(tiny_models, small_image):
    from semcodec.models.clipseg import ClipSegTowers
    from semcodec.networks.uo_isc import PatchDiscriminator, UoIscNet
    from semcodec.train.uo_isc import UoIscTrainConfig, critic_step, generator_loss

    torch.manual_seed(0)
    towers = ClipSegTowers("cpu")
    config = UoIscTrainConfig(data="test", relevance_weight=0.0, width=8)
    net = UoIscNet(towers.hidden_size, towers.text_dim, 4, 64, width=8)
    critic = PatchDiscriminator(8)
    x = torch.nn.functional.interpolate(small_image[None], size=(352, 352))
    with torch.no_grad():
        hidden, text = towers.hidden_states(x, LAYERS), towers.text_features(QUESTIONS[:1])
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    losses = []
    for _ in range(4):  # phase 1
        _, loss = generator_loss(net, towers, None, x, hidden, text, QUESTIONS[:1], LAYERS, config)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    opt_d = torch.optim.Adam(critic.parameters(), 1e-3)
    recon, _ = generator_loss(net, towers, None, x, hidden, text, QUESTIONS[:1], LAYERS, config)
    d_losses = [critic_step(critic, opt_d, x, recon.detach(), config) for _ in range(4)]  # phase 2's critic
    assert d_losses[-1] < d_losses[0]
    adv = []
    for _ in range(4):  # phase 2's generator: its loss includes the adversarial term
        recon, loss = generator_loss(net, towers, None, x, hidden, text, QUESTIONS[:1], LAYERS, config)
        loss = loss - config.adv_weight * critic(recon).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        adv.append(loss.item())
    assert adv[-1] < adv[0]


def test_the_relevance_loss_is_zero_for_the_original_and_has_gradients(tiny_models, small_image):
    from semcodec.models.relevance import RelevanceLoss

    loss = RelevanceLoss("cpu")
    x = small_image[None, :, :64, :64]
    assert loss(x, x, QUESTIONS[:1]).item() == pytest.approx(0.0, abs=1e-5)
    y = (x * 0.5).requires_grad_(True)
    value = loss(y, x, QUESTIONS[:1])
    value.backward()
    assert value.item() > 0 and y.grad.abs().sum() > 0


def test_saved_and_loaded_checkpoint_gives_identical_outputs(kit, tmp_path):
    from semcodec.codecs.uo_isc import load_checkpoint
    from semcodec.train.uo_isc import save

    net, layers, card = load_checkpoint(str(kit["ckpt"]), "cpu")
    copy = tmp_path / "copy.safetensors"
    save(copy, net, list(layers), card)
    again, layers2, _ = load_checkpoint(str(copy), "cpu")
    hidden = [torch.randn(1, 485, 32) for _ in layers]
    text = torch.randn(1, 16)
    with torch.no_grad():
        a, ia, _ = net(hidden, text)
        b, ib, _ = again(hidden, text)
    assert layers == layers2 and torch.equal(ia, ib) and torch.equal(a, b)


def test_indices_round_trip_exactly_without_noise_and_at_40_db(kit, kodim23):
    codec = _codec(kit)
    image = kodim23[:, :256, :384]
    clean = codec.run(image, snr_db=10.0, channel=NoiselessChannel(), metrics=["psnr"], query=QUESTIONS[0])
    assert clean.record["index_errors"] == 0
    assert torch.equal(codec._last_received, codec._last_sent)
    high = codec.run(image, snr_db=40.0, channel=AWGNChannel(), metrics=["psnr"], query=QUESTIONS[0])
    assert high.record["index_errors"] == 0
    assert torch.equal(high.reconstruction.image, clean.reconstruction.image)


@pytest.mark.parametrize("link", ["ldpc", "8psk"])
def test_at_minus_5_db_index_errors_occur_and_are_counted(kit, kodim23, link):
    rec = _codec(kit, link=link).run(kodim23[:, :256, :384], snr_db=-5.0, channel=AWGNChannel(), seed=1,
                                     metrics=["psnr"], query=QUESTIONS[0]).record
    assert rec["index_errors"] > 0 and 0 < rec["index_error_rate"] <= 1


@pytest.mark.parametrize("link", ["ldpc", "8psk"])
def test_bits_and_channel_uses_follow_from_the_configuration(kit, kodim23, link):
    from semcodec.links.digital import DigitalLink
    from semcodec.signal import header_channel_uses

    rec = _codec(kit, link=link).run(kodim23, snr_db=8.0, channel=AWGNChannel(), metrics=["psnr"],
                                     query=QUESTIONS[1]).record
    bits = 4 * 485 * (64 // 32) * 6  # layers x tokens x segments x log2(64)
    stream = rec["streams"]["indices"]
    assert stream["bits"] == bits
    if link == "8psk":
        assert stream["channel_uses"] == math.ceil(bits / 3) and rec["streams"]["header"]["bits"] == 36
    else:
        link_ = DigitalLink.for_design_snr(8.0)
        assert stream["channel_uses"] == link_.symbols_for(bits // 8) and rec["streams"]["header"]["bits"] == 36 + 29  # + MCS index (5) and length (24)
    assert rec["channel_uses"] == stream["channel_uses"] + header_channel_uses(rec["streams"]["header"]["bits"])
    assert rec["bandwidth_ratio"] == pytest.approx(rec["channel_uses"] / (3 * 512 * 768))
    assert rec["rate"] == "configured" and rec["query"] == QUESTIONS[1]


def test_the_query_steers_the_indices_only_with_alignment(tiny_models, small_image):
    from semcodec.models.clipseg import ClipSegTowers
    from semcodec.networks.uo_isc import UoIscNet

    torch.manual_seed(0)
    towers = ClipSegTowers("cpu")
    with torch.no_grad():
        hidden = towers.hidden_states(small_image[None], LAYERS)
        texts = towers.text_features(QUESTIONS)
    assert not torch.allclose(texts[0], texts[1])
    for align in (True, False):
        net = UoIscNet(towers.hidden_size, towers.text_dim, 4, 64, width=8, align=align)
        for film in net.film:  # a trained FiLM is not the identity it starts as
            torch.nn.init.normal_(film.lin.weight, std=0.5)
        with torch.no_grad():
            _, a, _ = net.encode(hidden, texts[:1])
            _, b, _ = net.encode(hidden, texts[1:])
        assert (not torch.equal(a, b)) is align


def test_encode_end_to_end_and_bench_with_a_queries_file(kit, kodak_dir, tmp_path):
    image = kodak_dir / "kodim23.png"
    code, out, err = call_cli("encode", image, "--codec", "uo-isc", "--query", "what is in the picture?", "--snr", "6",
                              "--opt", f"checkpoint={kit['ckpt']}", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["query"] == "what is in the picture?" and rec["metrics"]["answer_match"] in (0.0, 1.0)
    assert rec["streams"]["indices"]["bits"] == 23280 and rec["channel_uses"] > 0
    assert_clean_error(*call_cli("encode", image, "--codec", "uo-isc", "--opt", f"checkpoint={kit['ckpt']}"),
                       "--query")
    assert_clean_error(*call_cli("encode", image, "--codec", "uo-isc", "--query", "what?",
                                 "--bandwidth", "1/12"), "does not take --bandwidth")
    results = tmp_path / "r.jsonl"
    bench = ("bench", kit["images"], "--codecs", "uo-isc,bpg-ldpc", "--queries", kit["queries"], "--snr", "0,10",
             "--opt", f"checkpoint={kit['ckpt']}", "--metrics", "psnr,answer_match", "--out", results)
    code, out, err = call_cli(*bench)
    assert code == 0, err
    assert "(image, question) pairs" in out
    records = [json.loads(line) for line in results.read_text().splitlines()]
    keys = {(r["codec"], r["image"], r["query"], r["snr_db"]) for r in records}
    # one record per (image, question, SNR) and codec: the classical codec is asked the same questions
    assert len(records) == len(keys) == 2 * 2 * len(QUESTIONS) * 2
    assert all(r["metrics"]["answer_match"] in (0.0, 1.0) for r in records)
    assert all(r["streams"]["indices"]["channel_uses"] > 0 for r in records if r["codec"] == "uo-isc")
    code, out, err = call_cli(*bench)
    assert code == 0 and len(results.read_text().splitlines()) == len(records)  # resumed: nothing redone


def test_answer_match_is_null_with_a_reason_without_a_query_or_a_vqa_model(tmp_path, monkeypatch, small_image):
    from semcodec.metrics import compute_metrics
    from semcodec.signal import Reconstruction

    values, why = compute_metrics(small_image, Reconstruction(small_image), {}, ["answer_match"])
    assert values["answer_match"] is None and "query" in why["answer_match"]
    monkeypatch.setenv("SEMCODEC_VQA", str(tmp_path / "nowhere"))
    values, why = compute_metrics(small_image, Reconstruction(small_image), {"query": "what?"}, ["answer_match"])
    assert values["answer_match"] is None and "vqa" in why["answer_match"].lower()


def test_training_resumes_where_it_stopped_and_refuses_another_configuration(kit, tmp_path):
    import shutil

    ckpt = tmp_path / "r.safetensors"
    for suffix in (".safetensors", ".json", ".state.pt"):
        shutil.copy(kit["ckpt"].with_suffix(suffix), ckpt.with_suffix(suffix))
    base = ("train", "uo-isc", "--out", ckpt, "--images", kit["images"], "--queries", kit["queries"], "--batch", "2",
            "--layers", "1,2,3,4", "--width", "8", "--save-every", "2", "--phase2-at", "0.5", "--resume")
    assert_clean_error(*call_cli(*base, "--steps", "6", "--reduce-dim", "32"), "reduce_dim")
    code, _, err = call_cli(*base, "--steps", "6")
    assert code == 0, err
    card = json.loads(ckpt.with_suffix(".json").read_text())
    assert card["steps_done"] == 6 and [h["step"] for h in card["history"]] == [2, 4, 6]


def test_a_batch_past_the_machines_memory_is_refused_once_the_towers_tell_the_size(kit, tmp_path):
    """UO-ISC trains at the CLIPSeg tower's fixed size, known only once it is loaded: the trainer
    checks then, before the first step (the framework's batch x crop check cannot)."""
    out = tmp_path / "big.safetensors"
    assert_clean_error(*call_cli("train", "uo-isc", "--out", out, "--images", kit["images"], "--queries", kit["queries"],
                                 "--batch", "100000000", "--layers", "1,2,3,4", "--width", "8"), "lower --batch")
    assert not any(tmp_path.iterdir())


def test_question_files_vqav2_and_the_unseen_objects_split(tmp_path):
    from semcodec.errors import InvalidInput
    from semcodec.queries import read_queries, read_vqav2, unseen_objects_split

    q = tmp_path / "q.jsonl"
    q.write_text('{"image": "kodim23.png", "question": "what  bird?"}\n\n{"image": "kodim23", "question": "what bird?"}\n'
                 '{"image": "kodim05", "question": "how many?"}\n')
    assert read_queries(q) == {"kodim23": ["what bird?"], "kodim05": ["how many?"]}
    with pytest.raises(InvalidInput, match="not in the dataset"):
        read_queries(q, {"kodim23"})
    for bad in ('{"image": "a"}', "[1]", "{", '{"image": "a", "question": ""}'):
        q.write_text(bad + "\n")
        with pytest.raises(InvalidInput, match=r"q.jsonl:1"):
            read_queries(q)
    images = tmp_path / "coco"
    images.mkdir()
    for i in (1, 2):
        (images / f"COCO_train2014_{i:012d}.jpg").write_bytes(b"x")
    questions = tmp_path / "v.json"
    questions.write_text(json.dumps({"questions": [{"image_id": 1, "question": "Is it a dog?", "question_id": 10},
                                                   {"image_id": 2, "question": "How many cars?", "question_id": 20},
                                                   {"image_id": 3, "question": "Missing image?", "question_id": 30}]}))
    samples = read_vqav2(questions, images)
    assert [(s.image_id, s.question) for s in samples] == [("1", "Is it a dog?"), ("2", "How many cars?")]
    instances = tmp_path / "instances.json"
    instances.write_text(json.dumps({"categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
                                     "annotations": [{"image_id": 1, "category_id": 18},
                                                     {"image_id": 2, "category_id": 3}]}))
    train, test = unseen_objects_split(samples, instances)
    assert [s.image_id for s in train] == ["2"] and [s.image_id for s in test] == ["1"]


def test_mismatched_checkpoints_long_questions_and_tampered_headers_are_one_line_errors(kit, kodak_dir, tmp_path):
    import numpy as np

    from semcodec.codecs.uo_isc import load_checkpoint
    from semcodec.train.uo_isc import save

    image = kodak_dir / "kodim23.png"
    net, _, card = load_checkpoint(str(kit["ckpt"]), "cpu")
    other = tmp_path / "l12.safetensors"
    save(other, net, [3, 6, 9, 12], card)  # the training default: deeper than the tiny CLIPSeg
    assert_clean_error(*call_cli("encode", image, "--codec", "uo-isc", "--query", "what?", "--opt",
                                 f"checkpoint={other}"), "this CLIPSeg has 4")
    assert_clean_error(*call_cli("encode", image, "--codec", "uo-isc", "--query", "a" * 1001, "--opt",
                                 f"checkpoint={kit['ckpt']}"), "at most 1,000")
    signal = tmp_path / "s.npz"
    code, _, err = call_cli("encode", image, "--codec", "uo-isc", "--query", "what?", "--snr", "8", "--opt",
                            f"checkpoint={kit['ckpt']}", "--save-signal", signal)
    assert code == 0, err
    with np.load(signal) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["header"]["index_bits"] = 5
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tampered = tmp_path / "t.npz"
    np.savez(tampered, **arrays)
    assert_clean_error(*call_cli("decode", tampered, "-o", tmp_path / "o.png", "--opt", f"checkpoint={kit['ckpt']}"),
                       "the receiver's checkpoint sends")


def test_a_checkpoint_refuses_a_clipseg_of_the_same_shape_but_other_weights(kit, tiny_models, kodak_dir, tmp_path,
                                                                            monkeypatch):
    """The card records the frozen CLIPSeg's content fingerprint; another CLIPSeg of identical
    layout (one weight changed) is refused in one line unless --allow-other-frozen, recorded."""
    import shutil

    from safetensors.torch import load_file, save_file

    other = tmp_path / "clipseg"
    shutil.copytree(tiny_models["clipseg"], other)
    weights = next(other.rglob("*.safetensors"))
    tensors = load_file(str(weights))
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 1)
    tensors[name] = tensors[name] + 0.01
    save_file(tensors, str(weights), metadata={"format": "pt"})
    image = kodak_dir / "kodim23.png"
    args = ("encode", image, "--codec", "uo-isc", "--query", "what?", "--snr", "20", "--opt", f"checkpoint={kit['ckpt']}")
    trained_with = os.environ["SEMCODEC_CLIPSEG"]
    monkeypatch.setenv("SEMCODEC_CLIPSEG", str(other))
    assert_clean_error(*call_cli(*args), "--allow-other-frozen")
    code, out, err = call_cli(*args, "--allow-other-frozen", "--json")
    assert code == 0, err
    assert json.loads(out)["config"]["options"]["allow_other_frozen"] is True
    monkeypatch.setenv("SEMCODEC_CLIPSEG", trained_with)
    code, _, err = call_cli(*args)  # the CLIPSeg it was trained with
    assert code == 0, err
