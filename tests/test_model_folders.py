"""Model folders laid out differently from the expected repos: one line naming the folder and
what is wrong, never a traceback, never weights silently left random."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import assert_clean_error, call_cli


def _copy(src: str, dst: Path) -> Path:
    if Path(src).is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


def _check(component: str, folder: Path, needle: str):
    assert_clean_error(*call_cli("models", "check", component, "--model", f"{component}={folder}"), needle)


def test_fcn_state_dict_without_the_aux_head_loads(tiny_models, tmp_path):
    from semcodec.models.segmenter import Segmenter
    from semcodec.models.source import set_override

    state = torch.load(tiny_models["segmenter"], weights_only=True)
    no_aux = {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}
    path = tmp_path / "fcn_no_aux.pth"
    torch.save(no_aux, path)
    set_override("segmenter", str(path))
    try:
        seg = Segmenter(size=64).segment(torch.rand(3, 40, 60))
    finally:
        set_override("segmenter", tiny_models["segmenter"])
    assert seg is None or seg.mask.shape == (40, 60)


def test_fcn_pointed_at_a_folder_or_a_foreign_state_dict(tiny_models, tmp_path):
    _check("segmenter", tmp_path, "not the FCN state-dict file")
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, other)
    _check("segmenter", other, "does not match FCN-ResNet50")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    _check("segmenter", junk, "cannot load")


def test_llava_without_chat_template(tiny_models, tmp_path):
    folder = _copy(tiny_models["captioner"], tmp_path / "llava")
    for f in ("chat_template.jinja", "chat_template.json"):
        (folder / f).unlink(missing_ok=True)
    cfg = folder / "tokenizer_config.json"
    data = json.loads(cfg.read_text())
    data.pop("chat_template", None)
    cfg.write_text(json.dumps(data))
    _check("captioner", folder, "no chat template")


def test_sd_without_vae_and_ip_adapter_without_image_encoder(tiny_models, tmp_path):
    sd = _copy(tiny_models["generator"], tmp_path / "sd")
    shutil.rmtree(sd / "vae")
    _check("generator", sd, "has no vae/config.json")
    ip = _copy(tiny_models["ip_adapter"], tmp_path / "ip")
    shutil.rmtree(ip / "models" / "image_encoder")
    _check("ip_adapter", ip, "models/image_encoder/config.json")


def test_ip_adapter_saved_as_safetensors_works(tiny_models, tmp_path):
    from safetensors.torch import save_file

    from semcodec.models.generator import Generator
    from semcodec.models.source import set_override

    ip = _copy(tiny_models["ip_adapter"], tmp_path / "ip")
    state = torch.load(ip / "models" / "ip-adapter_sd15.bin", weights_only=True)
    flat = {f"{group}.{k}": v.contiguous() for group, sub in state.items() for k, v in sub.items()}
    save_file(flat, ip / "models" / "ip-adapter_sd15.safetensors")
    (ip / "models" / "ip-adapter_sd15.bin").unlink()
    set_override("ip_adapter", str(ip))
    try:
        image, _ = Generator(ip_adapter=True, steps=1, resolution=64).generate(
            "a cat", (32, 32), image_prompt=torch.rand(3, 32, 32))
    finally:
        set_override("ip_adapter", tiny_models["ip_adapter"])
    assert image.shape == (3, 32, 32)


def test_clip_without_processor_files_and_speller_without_tokenizer(tiny_models, tmp_path):
    clip = _copy(tiny_models["clip"], tmp_path / "clip")
    for f in ("processor_config.json", "preprocessor_config.json"):
        (clip / f).unlink(missing_ok=True)
    _check("clip", clip, "has no preprocessor_config.json or processor_config.json")
    speller = _copy(tiny_models["speller"], tmp_path / "bart")
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        (speller / f).unlink(missing_ok=True)
    _check("speller", speller, "has no tokenizer.json")


def test_blip_pointed_at_a_llava_folder(tiny_models):
    _check("blip", Path(tiny_models["captioner"]), "holds a 'llava' model, not blip")


def test_weights_missing_from_the_file_are_an_error_not_random_init(tiny_models, tmp_path):
    from safetensors.torch import load_file, save_file

    speller = _copy(tiny_models["speller"], tmp_path / "bart")
    state = load_file(speller / "model.safetensors")
    dropped = sorted(state)[: len(state) // 3]
    save_file({k: v for k, v in state.items() if k not in dropped}, speller / "model.safetensors",
              metadata={"format": "pt"})
    _check("speller", speller, "weight tensor(s)")


def test_a_broken_clip_folder_does_not_crash_a_deep_jscc_encode(tiny_models, tmp_path, monkeypatch):
    clip = _copy(tiny_models["clip"], tmp_path / "clip")
    (clip / "model.safetensors").write_bytes(b"garbage")
    monkeypatch.setenv("SEMCODEC_CLIP", str(clip))
    code, out, err = call_cli("encode", "--codec", "deep-jscc", "--snr", "10", "--json")
    assert code == 0, err
    rec = json.loads(out)
    assert rec["metrics"]["clip_cos"] is None and "cannot load" in rec["unavailable"]["clip_cos"]
    assert rec["metrics"]["psnr"] > 20


# -- issue 21: every sub-model validated as loaded; every component checkable ----------------------
def _drop_one_tensor(folder: Path) -> str:
    from safetensors.torch import load_file, save_file

    file = next(folder.glob("*.safetensors"))
    state = load_file(file)
    dropped = sorted(state)[len(state) // 2]
    save_file({k: v for k, v in state.items() if k != dropped}, file, metadata={"format": "pt"})
    return dropped


@pytest.mark.parametrize("component, sub", [
    ("generator", "text_encoder"), ("generator", "unet"), ("generator", "vae"),
    ("ip_adapter", "models/image_encoder"), ("clipseg", ""), ("captioner", ""), ("clip", ""),
])
def test_one_tensor_removed_from_any_sub_model_is_refused_naming_folder_and_sub_folder(
        component, sub, tiny_models, tmp_path):
    folder = _copy(tiny_models[component], tmp_path / component)
    _drop_one_tensor(folder / sub)
    code, out, err = call_cli("models", "check", component, "--model", f"{component}={folder}")
    assert_clean_error(code, out, err, "weight tensor(s)")
    assert f"{component} (" in err and str(folder / sub) in err, err


def test_an_ip_adapter_fault_names_the_ip_adapter_not_the_sd_folder(tiny_models, tmp_path):
    ip = _copy(tiny_models["ip_adapter"], tmp_path / "ip")
    weights = ip / "models" / "ip-adapter_sd15.bin"
    state = torch.load(weights, weights_only=True)
    del state["image_proj"]["norm.bias"]
    torch.save(state, weights)
    code, out, err = call_cli("models", "check", "ip_adapter", "--model", f"ip_adapter={ip}")
    assert_clean_error(code, out, err, "image_proj tensor")
    assert err.startswith("error: ip_adapter") and str(ip) in err and tiny_models["generator"] not in err
    state["image_proj"]["norm.bias"] = torch.zeros(state["image_proj"]["norm.weight"].shape)
    state["ip_adapter"]["999.to_k_ip.weight"] = torch.zeros(1)
    torch.save(state, weights)
    _check("ip_adapter", ip, "does not take")


def test_a_tensor_the_model_does_not_take_is_refused(tiny_models, tmp_path):
    from safetensors.torch import load_file, save_file

    sd = _copy(tiny_models["generator"], tmp_path / "sd")
    file = sd / "text_encoder" / "model.safetensors"
    state = load_file(file)
    state["extra.layer.weight"] = torch.zeros(2)
    save_file(state, file, metadata={"format": "pt"})
    _check("generator", sd, "does not take")


def test_models_check_knows_every_component_models_list_shows(tiny_models):
    from semcodec.models.source import COMPONENTS

    for target in [*COMPONENTS, "uo-isc", None]:
        code, out, err = call_cli("models", "check", *([target] if target else []))
        assert code == 0 and "unknown component" not in err, (target, err)
    code, out, _ = call_cli("models", "list")
    assert code == 0 and all(key in out for key in COMPONENTS)


def test_a_folder_given_on_purpose_is_not_told_to_pull_and_no_message_names_a_nonexistent_command(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = call_cli("models", "check", "clipseg", "--model", f"clipseg={empty}")
    assert_clean_error(code, out, err, "complete copy")
    assert "pull" not in err and "internet" not in err
    assert_clean_error(*call_cli("models", "check", "clipseg", "--model", f"clipseg={tmp_path / 'nope'}"),
                       "does not exist")
    from semcodec.models.source import missing_reason, set_override

    set_override("relevance_vlm", "someone/not-cached")
    try:
        line = missing_reason("relevance_vlm", "uo-isc training")
    finally:
        from semcodec.models import source

        source._overrides.pop("relevance_vlm", None)
    assert "models pull relevance_vlm" in line and "pull uo-isc training" not in line


def test_a_clip_whose_weights_are_all_nan_fails_the_check(tiny_models, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _copy(tiny_models["clip"], tmp_path / "clip")
    weights = folder / "model.safetensors"
    state = {k: (torch.full_like(v, float("nan")) if v.is_floating_point() else v) for k, v in load_file(weights).items()}
    save_file(state, str(weights))
    _check("clip", folder, "NaN or infinity")


def test_a_pickle_torch_will_not_load_as_weights_is_one_line_without_torch_s_warning(tiny_models, tmp_path):
    """A ``pytorch_model.bin`` that is a pickle of protocol 4 holding a global (not plain weights):
    torch's safe loader refuses it and warns about the protocol; the user reads one line of ours."""
    import pickle

    folder = _copy(tiny_models["clip"], tmp_path / "clip")
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"weight": print}, protocol=4))
    code, out, err = call_cli("models", "check", "clip", "--model", f"clip={folder}")
    assert_clean_error(code, out, err, "does not load as plain weights")
    assert "Warning" not in err and "torch.load" not in err, err


@pytest.mark.parametrize("component, value, needle", [
    ("blip", float("nan"), "NaN or infinity"), ("speller", float("nan"), "NaN or infinity"),
    ("captioner", float("nan"), "NaN or infinity"), ("vqa", float("nan"), "NaN or infinity"),
    ("clip", 3e38, "damaged weights"), ("speller", -3e38, "damaged weights"),
])
def test_one_damaged_value_in_a_model_fails_the_check(component, value, needle, tiny_models, tmp_path):
    """A text model with one damaged tensor still emits token ids, and a finite 3e38 may vanish in
    a normalised output: the check looks at the weights."""
    from safetensors.torch import load_file, save_file

    folder = _copy(tiny_models[component], tmp_path / component)
    shards = sorted(folder.rglob("*.safetensors"))
    assert shards, list(folder.iterdir())
    state = load_file(shards[0])
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name] = state[name].clone()
    state[name].view(-1)[0] = value
    save_file(state, str(shards[0]), metadata={"format": "pt"})
    _check(component, folder, needle)


def test_a_damaged_ip_adapter_image_encoder_is_blamed_on_the_adapter(tiny_models, tmp_path):
    folder = _copy(tiny_models["ip_adapter"], tmp_path / "ip")
    weights = folder / "models" / "image_encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    code, out, err = call_cli("models", "check", "ip_adapter", "--model", f"ip_adapter={folder}")
    assert_clean_error(code, out, err, "image_encoder")
    assert err.startswith("error: ip_adapter"), err


# -- issue 21, re-test 5: blanked weights and weights stored as integers -------------------------
def _rewrite_tensors(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    shards = sorted(folder.rglob("*.safetensors"))
    assert shards, list(folder.iterdir())
    for shard in shards:
        save_file({k: change(k, v) for k, v in load_file(shard).items()}, str(shard), metadata={"format": "pt"})


@pytest.mark.parametrize("component", ["blip", "speller", "clipseg", "captioner"])
def test_a_model_whose_every_weight_is_zero_fails_the_check(component, tiny_models, tmp_path):
    """An all-zero BLIP or BART writes '' and computes no NaN: the check must still refuse it."""
    folder = _copy(tiny_models[component], tmp_path / component)
    _rewrite_tensors(folder, lambda k, v: torch.zeros_like(v) if v.is_floating_point() else v)
    _check(component, folder, "are zero")


@pytest.mark.parametrize("component", ["blip", "speller", "generator"])
def test_a_weight_stored_as_integers_fails_the_check(component, tiny_models, tmp_path):
    """A loader casts an int32 tensor into its float parameter without a word."""
    folder = _copy(tiny_models[component], tmp_path / component)
    first = {}

    def to_int(name, value):
        if value.is_floating_point() and value.dim() >= 2 and not first:
            first[name] = True
            return (value * 100).to(torch.int32)
        return value

    _rewrite_tensors(folder / ("unet" if component == "generator" else ""), to_int)
    code, out, err = call_cli("models", "check", component, "--model", f"{component}={folder}")
    assert_clean_error(code, out, err, "not floating point")
    assert next(iter(first)) in err, err


# -- issue 21, re-test 6: pickled weights (.bin, .pth) and configurations that are not objects ----
def _first_matrix(state: dict, change) -> str:
    for key, value in state.items():
        if isinstance(value, dict):
            name = _first_matrix(value, change)
            if name:
                return f"{key}.{name}"
        elif value.is_floating_point() and value.dim() >= 2:
            state[key] = change(value)
            return key
    return ""


def test_an_ip_adapter_or_fcn_weight_pickled_as_integers_fails_the_check(tiny_models, tmp_path):
    ip = _copy(tiny_models["ip_adapter"], tmp_path / "ip")
    weights = ip / "models" / "ip-adapter_sd15.bin"
    state = torch.load(weights, weights_only=True)
    name = _first_matrix(state, lambda v: (v * 100).to(torch.int32))
    torch.save(state, weights)
    code, out, err = call_cli("models", "check", "ip_adapter", "--model", f"ip_adapter={ip}")
    assert_clean_error(code, out, err, "not floating point")
    assert name in err, err
    state = torch.load(tiny_models["segmenter"], weights_only=True)
    _first_matrix(state, lambda v: (v * 100).to(torch.int32))
    fcn = tmp_path / "fcn_int.pth"
    torch.save(state, fcn)
    _check("segmenter", fcn, "not floating point")


def test_an_ip_adapter_whose_every_weight_is_zero_fails_the_check(tiny_models, tmp_path):
    """The adapter's matrices are a sliver of the UNet they plug into: checked in their own file."""
    ip = _copy(tiny_models["ip_adapter"], tmp_path / "ip")
    weights = ip / "models" / "ip-adapter_sd15.bin"
    state = torch.load(weights, weights_only=True)
    torch.save({g: {k: torch.zeros_like(v) for k, v in d.items()} for g, d in state.items()}, weights)
    _check("ip_adapter", ip, "are zero")


@pytest.mark.parametrize("config", ["unet/config.json", "scheduler/scheduler_config.json", "model_index.json"])
def test_a_configuration_that_is_a_json_list_is_one_line_naming_it(config, tiny_models, tmp_path):
    """Given a list, diffusers takes the folder for a hub id and reports a failed download."""
    sd = _copy(tiny_models["generator"], tmp_path / "sd")
    (sd / config).write_text("[1, 2]")
    code, out, err = call_cli("models", "check", "generator", "--model", f"generator={sd}")
    assert_clean_error(code, out, err, "not a JSON object")
    assert str(sd / config) in err and "huggingface.co" not in err, err


# -- issue 21, re-test 8: a tensor of the wrong shape, a broken file in one sub-model ----------
def _grow_first_matrix(folder: Path) -> str:
    from safetensors.torch import load_file, save_file

    file = next(folder.glob("*.safetensors"))
    state = load_file(file)
    name = next(k for k in sorted(state) if state[k].dim() == 2)
    state[name] = torch.randn(state[name].shape[0] + 1, state[name].shape[1])
    save_file(state, file, metadata={"format": "pt"})
    return name


@pytest.mark.parametrize("component, sub", [
    ("generator", "text_encoder"), ("generator", "unet"), ("generator", "vae"),
    ("ip_adapter", "models/image_encoder"), ("clip", ""), ("speller", ""), ("captioner", ""),
])
def test_a_tensor_of_the_wrong_shape_is_named_with_its_sub_folder(component, sub, tiny_models, tmp_path):
    """transformers raised "look at the above report" (a report the CLI silences), naming no
    sub-folder; diffusers named the tensor but not where it was."""
    folder = _copy(tiny_models[component], tmp_path / component)
    name = _grow_first_matrix(folder / sub)
    code, out, err = call_cli("models", "check", component, "--model", f"{component}={folder}")
    assert_clean_error(code, out, err, "of the wrong shape")
    assert str(folder / sub) in err and name.split(".", 1)[-1] in err and "above report" not in err, err


@pytest.mark.parametrize("sub", ["text_encoder", "unet", "vae"])
def test_a_truncated_sub_model_file_names_the_sub_folder(sub, tiny_models, tmp_path):
    sd = _copy(tiny_models["generator"], tmp_path / "sd")
    file = next((sd / sub).glob("*.safetensors"))
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    code, out, err = call_cli("models", "check", "generator", "--model", f"generator={sd}")
    assert_clean_error(code, out, err, str(sd / sub))


def test_a_configuration_field_of_the_wrong_type_is_said_whole(tiny_models, tmp_path):
    """The validation error's first line ends in ':' — the field's complaint is on the next."""
    sd = _copy(tiny_models["generator"], tmp_path / "sd")
    config = sd / "text_encoder" / "config.json"
    values = json.loads(config.read_text())
    values["vocab_size"] = str(values["vocab_size"])
    config.write_text(json.dumps(values))
    code, out, err = call_cli("models", "check", "generator", "--model", f"generator={sd}")
    assert_clean_error(code, out, err, str(sd / "text_encoder"))
    assert "expected int" in err, err


def test_model_index_entries_the_pipeline_does_not_use_may_lack_their_folders(tiny_models, tmp_path):
    """A real SD 1.5 copy is often pulled without its safety checker: the codec uses the text
    encoder, UNet, VAE, tokenizer and scheduler, each checked as loaded, and nothing else."""
    sd = _copy(tiny_models["generator"], tmp_path / "sd")
    index = json.loads((sd / "model_index.json").read_text())
    index["safety_checker"] = ["stable_diffusion", "StableDiffusionSafetyChecker"]
    (sd / "model_index.json").write_text(json.dumps(index))
    assert not (sd / "safety_checker").exists()
    code, out, err = call_cli("models", "check", "generator", "--model", f"generator={sd}")
    assert code == 0 and "ok generator" in out, (out, err)
