"""Main-object segmentation with torchvision's FCN-ResNet50 (COCO images, 21 VOC classes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .loading import load_once
from .validate import check_state_tensors

if TYPE_CHECKING:
    from torch import Tensor

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")


@dataclass
class Segmentation:
    """The main object: its mask ``[H, W]`` (bool), VOC label, and box ``(top, left, bottom, right)``
    (bottom/right exclusive)."""

    mask: "Tensor"
    label: str
    label_index: int
    box: tuple[int, int, int, int]


def _load(path: str, device: str):
    import torch
    from torchvision.models.segmentation import fcn_resnet50

    from ..errors import ModelUnavailable

    # The torchvision weights file (fcn_resnet50_coco-1167a1af.pth) is this state dict; copies
    # saved without the auxiliary head (it is unused at inference) are accepted as they are.
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ModelUnavailable(f"FCN segmenter: {path} is not a state dict")
    state = state.get("model", state) if isinstance(state.get("model"), dict) else state
    check_state_tensors(state, str(path), "FCN segmenter")
    aux = any(str(k).startswith("aux_classifier.") for k in state)
    model = fcn_resnet50(weights=None, weights_backbone=None, num_classes=len(VOC_CLASSES), aux_loss=aux)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        keys = result.missing_keys or result.unexpected_keys
        raise ModelUnavailable(f"FCN segmenter: {path} does not match FCN-ResNet50 with 21 classes "
                               f"({len(keys)} {'missing' if result.missing_keys else 'unexpected'} keys, e.g. {keys[0]})")
    return model.to(device).eval()


class Segmenter:
    """Finds the largest non-background VOC class in an image.

    Args:
        size: shorter side the image is resized to for the network (520 as torchvision's weights).
    """

    component = "segmenter"

    def __init__(self, device: str | None = None, size: int = 520, codec: str | None = None) -> None:
        self.device, self.size, self.codec = device, size, codec

    def segment(self, image: "Tensor") -> Segmentation | None:
        """``[3, H, W]`` in [0, 1] -> the main object, or ``None`` when only background is found."""
        import torch
        from torch.nn import functional as F

        model = load_once(self.component, self.device, _load, self.codec)
        h, w = image.shape[-2:]
        scale = self.size / min(h, w)
        x = F.interpolate(image[None].float(), size=(max(1, round(h * scale)), max(1, round(w * scale))),
                          mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
        std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
        x = ((x - mean) / std).to(next(model.parameters()).device)
        with torch.no_grad():
            logits = model(x)["out"]
        labels = F.interpolate(logits.float(), size=(h, w), mode="bilinear", align_corners=False)[0].argmax(0).cpu()
        counts = torch.bincount(labels.flatten(), minlength=len(VOC_CLASSES))
        counts[0] = 0
        if counts.sum() == 0:
            return None
        cls = int(counts.argmax())
        mask = labels == cls
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        return Segmentation(mask, VOC_CLASSES[cls], cls, box)
