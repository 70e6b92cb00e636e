"""A kit of tiny random pretrained components, saved in the layout of the real repos.

``build_tiny_models(folder)`` writes a tiny LLaVA, BLIP, BART, CLIP, Stable Diffusion with an
IP-Adapter, and an FCN-ResNet50 state dict into ``folder`` and returns ``{component: path}``;
``use_tiny_models(paths)`` points the components at them (``SEMCODEC_<COMPONENT>``). The tests
then run the real ``from_pretrained`` / processor / pipeline code on them. Their outputs are
noise: never report a quality number made with them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>", "<image>", "[DEC]", "[SEP]", "[CLS]",
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|startoftext|>"]
CORPUS = ["a photo of a cat sitting on a red sofa", "two dogs play in the green grass near a house",
          "the sky is blue and the sun is bright", "a person rides a bicycle down the street",
          "Relay a brief, clear account of the picture shown.", "user assistant image text"] * 20
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
                 "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _tokenizer(bos: str = "<s>", eos: str = "</s>", pad: str = "<pad>", max_len: int = 128,
               post: str | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    if post:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, pad_token=pad,
                                   unk_token="<unk>", model_max_length=max_len,
                                   additional_special_tokens=["<image>"])


def _llava(folder: Path) -> Path:
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor, Qwen2Config)

    tok = _tokenizer(bos="<|im_start|>", eos="<|im_end|>")
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, image_size=32, patch_size=8),
        text_config=Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=256,
                                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
        image_token_index=tok.convert_tokens_to_ids("<image>"), image_seq_length=16,
        vision_feature_select_strategy="default", vision_feature_layer=-2)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                  crop_size={"height": 32, "width": 32}),
                               tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE)
    path = folder / "llava"
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def _blip(folder: Path) -> Path:
    from transformers import (BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor,
                              BlipTextConfig, BlipVisionConfig)

    tok = _tokenizer(bos="[DEC]", eos="[SEP]")
    tok.add_special_tokens({"cls_token": "[CLS]", "sep_token": "[SEP]"})
    config = BlipConfig(
        text_config=BlipTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=2, encoder_hidden_size=32, max_position_embeddings=64,
                                   bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                   sep_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id),
        vision_config=BlipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=2, image_size=32, patch_size=8),
        projection_dim=16)
    model = BlipForConditionalGeneration(config).eval()
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tok)
    path = folder / "blip"
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def _bart(folder: Path) -> Path:
    from transformers import BartConfig, BartForConditionalGeneration

    tok = _tokenizer(post="bart")
    config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        decoder_start_token_id=tok.eos_token_id, forced_eos_token_id=tok.eos_token_id)
    path = folder / "bart"
    BartForConditionalGeneration(config).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _clip(folder: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tok = _tokenizer(bos="<|startoftext|>", eos="<|endoftext|>", pad="<|endoftext|>", max_len=77)
    config = CLIPConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16)
    path = folder / "clip"
    CLIPModel(config).eval().save_pretrained(path)
    CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                     crop_size={"height": 32, "width": 32}),
                  tokenizer=tok).save_pretrained(path)
    return path


def _clipseg(folder: Path) -> Path:
    """A tiny CLIPSeg laid out as ``CIDAS/clipseg-rd64-refined`` is: a CLIPSegForImageSegmentation
    (the segmentation decoder included, which UO-ISC does not load), a ViT image processor at 352
    px and a CLIP tokenizer."""
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPSegProcessor, ViTImageProcessor

    tok = _tokenizer(bos="<|startoftext|>", eos="<|endoftext|>", pad="<|endoftext|>", max_len=77)
    config = CLIPSegConfig(
        text_config={"vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4,
                       "num_attention_heads": 2, "image_size": 224, "patch_size": 16},
        projection_dim=16, extract_layers=[1, 2, 3], reduce_dim=16)
    path = folder / "clipseg"
    CLIPSegForImageSegmentation(config).eval().save_pretrained(path)
    image_processor = ViTImageProcessor(size={"height": 352, "width": 352}, image_mean=[0.485, 0.456, 0.406],
                                        image_std=[0.229, 0.224, 0.225])
    CLIPSegProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(path)
    return path


def _stable_diffusion(folder: Path) -> tuple[Path, Path]:
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import (CLIPImageProcessor, CLIPTextConfig, CLIPTextModel, CLIPVisionConfig,
                              CLIPVisionModelWithProjection)

    torch.manual_seed(0)
    tok = _tokenizer(bos="<|startoftext|>", eos="<|endoftext|>", pad="<|endoftext|>", max_len=77)
    unet = UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=(32, 32, 32, 32), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=32)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
                                   scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), safety_checker=None,
                                   # IP-Adapter preprocesses its image prompt with this (32 px encoder)
                                   feature_extractor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                        crop_size={"height": 32, "width": 32}),
                                   requires_safety_checker=False)
    sd = folder / "sd15"
    pipe.save_pretrained(sd)

    # IP-Adapter in h94/IP-Adapter's layout: models/ip-adapter_sd15.bin + models/image_encoder/.
    embed_dim, cross = 16, 32
    ip = folder / "ip_adapter"
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, intermediate_size=64,
                                                             num_hidden_layers=2, num_attention_heads=2,
                                                             image_size=32, patch_size=8, projection_dim=embed_dim))
    encoder.save_pretrained(ip / "models" / "image_encoder")
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        ip / "models" / "image_encoder")
    state = {"image_proj": {"proj.weight": torch.randn(4 * cross, embed_dim) * 0.02,
                            "proj.bias": torch.zeros(4 * cross), "norm.weight": torch.ones(cross),
                            "norm.bias": torch.zeros(cross)}, "ip_adapter": {}}
    for i, (name, _) in enumerate(unet.attn_processors.items()):
        if name.endswith("attn2.processor"):
            hidden = _hidden_size(unet, name)
            state["ip_adapter"][f"{i}.to_k_ip.weight"] = torch.randn(hidden, cross) * 0.02
            state["ip_adapter"][f"{i}.to_v_ip.weight"] = torch.randn(hidden, cross) * 0.02
    torch.save(state, ip / "models" / "ip-adapter_sd15.bin")
    return sd, ip


def _hidden_size(unet, name: str) -> int:
    if name.startswith("mid_block"):
        return unet.config.block_out_channels[-1]
    block = int(name.split(".")[1])
    if name.startswith("up_blocks"):
        return list(reversed(unet.config.block_out_channels))[block]
    return unet.config.block_out_channels[block]


def _fcn(folder: Path) -> Path:
    import torch
    from torchvision.models.segmentation import fcn_resnet50

    torch.manual_seed(0)
    model = fcn_resnet50(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    path = folder / "fcn_resnet50_tiny.pth"
    torch.save(model.state_dict(), path)
    return path


def build_tiny_models(folder: str | os.PathLike) -> dict[str, str]:
    """Build every tiny component under ``folder``; returns ``{component: path}``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sd, ip = _stable_diffusion(folder)
    llava = _llava(folder)
    paths = {"captioner": llava, "vqa": llava, "relevance_vlm": llava, "blip": _blip(folder),
             "speller": _bart(folder), "clip": _clip(folder), "clipseg": _clipseg(folder),
             "generator": sd, "ip_adapter": ip, "segmenter": _fcn(folder)}
    out = {k: str(v) for k, v in paths.items()}
    from .provenance import mark_test_model

    for path in out.values():
        mark_test_model(path)  # records made with these say so; `report` will not average them
    (folder / "tiny_models.json").write_text(json.dumps(out, indent=1))
    return out


def use_tiny_models(paths: dict[str, str]) -> dict[str, str | None]:
    """Point each component at its tiny copy (``SEMCODEC_<COMPONENT>``); returns the old values."""
    from .models.source import component

    old = {}
    for key, path in paths.items():
        env = component(key).env
        old[env] = os.environ.get(env)
        os.environ[env] = path
    return old
