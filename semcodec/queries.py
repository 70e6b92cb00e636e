"""Users' questions as data: query files for ``bench --queries``, VQAv2 for UO-ISC training, and
the "unseen objects" split of the paper.

A **query file** is JSON lines, one question per line: ``{"image": "kodim23", "question": "what
colour is the parrot?"}``; ``image`` is an image id of the dataset (the file stem; a file name
is accepted too); one image may have several questions. **VQAv2** is the questions JSON
(``{"questions": [{"image_id": 9, "question": "...", "question_id": ...}, ...]}``) beside a COCO
images folder (``COCO_train2014_000000000009.jpg`` or ``000000000009.jpg``). The **unseen
objects** split (train without animals, test on them) needs COCO's instance annotations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError, InvalidInput
from .schema import loads_unique

#: COCO's animal categories: the paper's "unseen objects" at test time.
ANIMALS = frozenset({"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"})
MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class Sample:
    """One training or test item: an image file and a question about it."""

    image: Path
    question: str
    image_id: str


def _question(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: 'question' must be a non-empty string")
    text = " ".join(value.split())
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"{where}: the question is longer than {MAX_QUESTION_CHARS} characters")
    return text


def read_queries(path: str | Path, image_ids: set[str] | None = None) -> dict[str, list[str]]:
    """A query file -> image id -> its questions (in file order, each once). One-line errors name
    the line; an image id not in ``image_ids`` (the dataset's) is an error too."""
    path = Path(path)
    from .imageio import check_readable_file

    check_readable_file(path, "--queries")
    out: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a BOM is not part of line 1
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"--queries {path}: cannot read it ({type(exc).__name__})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"--queries {path}:{n}"
        try:
            item = loads_unique(line)
        except (ValueError, RecursionError) as exc:  # malformed, a key twice, or a >4,300-digit number
            raise InvalidInput(f"{where}: not a JSON object{'' if 'twice' not in str(exc) else f' ({exc})'}") from None
        if not isinstance(item, dict) or not isinstance(item.get("image"), str) or not item["image"].strip():
            raise InvalidInput(f'{where}: want {{"image": "<id>", "question": "..."}}')
        image = Path(item["image"].strip()).stem if "." in Path(item["image"].strip()).name else item["image"].strip()
        if image_ids is not None and image not in image_ids:
            raise InvalidInput(f"{where}: image {image!r} is not in the dataset")
        question = _question(item.get("question"), where)
        if question not in out.setdefault(image, []):
            out[image].append(question)
    if not out:
        raise InvalidInput(f"--queries {path}: no question in it")
    return out


def _coco_image(images: Path, image_id: int) -> Path | None:
    for name in (f"COCO_train2014_{image_id:012d}.jpg", f"COCO_val2014_{image_id:012d}.jpg", f"{image_id:012d}.jpg"):
        if (images / name).is_file():
            return images / name
    return None


#: The largest annotation file read (COCO's instances_train2014.json is ~330 MB): a bigger one
#: is not one of theirs, and reading it would take that much memory several times over.
MAX_ANNOTATION_BYTES = 1 << 30


def _read_annotations(path: Path, what: str) -> str:
    """A regular file of at most :data:`MAX_ANNOTATION_BYTES`, as text (a FIFO, a device or a
    folder is refused before anything is read: ``/dev/zero`` would be read forever)."""
    from .imageio import check_readable_file

    check_readable_file(path, what)
    if path.stat().st_size > MAX_ANNOTATION_BYTES:
        raise DatasetError(f"{what} {path}: {path.stat().st_size / 2**30:.1f} GiB is larger than any COCO/VQA "
                           f"annotation file (at most {MAX_ANNOTATION_BYTES >> 30} GiB are read)")
    return path.read_text(encoding="utf-8")


def read_vqav2(questions: str | Path, images: str | Path, limit: int | None = None) -> list[Sample]:
    """VQAv2 questions whose COCO image is in ``images`` (others are skipped, not fatal)."""
    questions, images = Path(questions), Path(images)
    if not images.is_dir():
        raise DatasetError(f"{images}: not a folder of COCO images")
    try:
        data = json.loads(_read_annotations(questions, "--vqa-questions"))
        items = data["questions"]
        if not isinstance(items, list):
            raise TypeError("questions is not a list")
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise DatasetError(f"{questions}: not a VQAv2 questions file ({type(exc).__name__})") from None
    out: list[Sample] = []
    for item in items:
        try:
            image_id = int(item["image_id"])
            question = _question(item["question"], str(questions))
        except (KeyError, TypeError, ValueError, InvalidInput):
            continue
        path = _coco_image(images, image_id)
        if path is not None:
            out.append(Sample(path, question, str(image_id)))
            if limit and len(out) >= limit:
                break
    if not out:
        raise DatasetError(f"{questions}: no question has its image in {images}")
    return out


def samples_from_queries(path: str | Path, folder: str | Path) -> list[Sample]:
    """A query file whose image ids are files of ``folder`` -> samples (for training on any data)."""
    from .data import folder as dataset_folder

    images = {im.id: im.path for im in dataset_folder(folder, "training images")}
    by_image = read_queries(path, set(images))
    return [Sample(Path(images[i]), q, i) for i, qs in by_image.items() for q in qs]


def unseen_objects_split(samples: list[Sample], instances: str | Path) -> tuple[list[Sample], list[Sample]]:
    """The paper's split: ``(train, test)`` = samples whose image shows no animal / shows one,
    from COCO instance annotations (``instances_*.json``)."""
    try:
        data = json.loads(_read_annotations(Path(instances), "--coco-instances"))
        animal_ids = {c["id"] for c in data["categories"] if c["name"] in ANIMALS}
        with_animals = {str(a["image_id"]) for a in data["annotations"] if a["category_id"] in animal_ids}
        annotated = {str(a["image_id"]) for a in data["annotations"]}
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise DatasetError(f"{instances}: not COCO instance annotations ({type(exc).__name__})") from None
    if not any(s.image_id in annotated for s in samples):
        raise DatasetError(f"{instances}: annotates none of the training images (another COCO split?)")
    train = [s for s in samples if s.image_id not in with_animals]
    test = [s for s in samples if s.image_id in with_animals]
    return train, test
