"""Named datasets and plain folders of images.

``kodak24`` downloads kodim01..24 from the Kodak suite's canonical address into the data
folder (``--data DIR``, else ``SEMCODEC_DATA``, else ``~/.cache/semcodec``) and verifies every
file against the SHA-256 digests pinned here — a mismatch is an error, never a silent use.
``bsds500`` and ``voc2012`` are read from a local folder (their licences forbid redistribution);
any folder path is a dataset too.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError

KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{name}"

#: SHA-256 of each Kodak file exactly as served by the canonical host.
KODAK24_SHA256 = {
    "kodim01.png": "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd",
    "kodim02.png": "4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd",
    "kodim03.png": "e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db",
    "kodim04.png": "e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa",
    "kodim05.png": "10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53",
    "kodim06.png": "363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18",
    "kodim07.png": "b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4",
    "kodim08.png": "ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7",
    "kodim09.png": "6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d",
    "kodim10.png": "9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23",
    "kodim11.png": "7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6",
    "kodim12.png": "d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980",
    "kodim13.png": "bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08",
    "kodim14.png": "55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e",
    "kodim15.png": "7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683",
    "kodim16.png": "a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54",
    "kodim17.png": "37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b",
    "kodim18.png": "1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa",
    "kodim19.png": "b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc",
    "kodim20.png": "3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a",
    "kodim21.png": "ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b",
    "kodim22.png": "1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29",
    "kodim23.png": "e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf",
    "kodim24.png": "1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96",
}

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


@dataclass(frozen=True)
class DatasetImage:
    """One image of a dataset: a stable id (file stem) and its path."""

    id: str
    path: Path


def data_root(data: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data`` argument, else ``SEMCODEC_DATA``, else ``~/.cache/semcodec``
    (one that exists and is not a folder is refused here, naming where it came from)."""
    if data:
        root, source = Path(data).expanduser(), "--data"
    elif os.environ.get("SEMCODEC_DATA"):
        root, source = Path(os.environ["SEMCODEC_DATA"]).expanduser(), "SEMCODEC_DATA"
    else:
        root, source = Path.home() / ".cache" / "semcodec", "the data folder"
    try:
        not_a_folder = root.exists() and not root.is_dir()
    except OSError:
        not_a_folder = True
    if not_a_folder:
        raise DatasetError(f"{source}: {root} is not a folder")
    return root


def sha256(path: Path) -> str:
    """The file's SHA-256; a FIFO, device or folder in its place is an ``OSError`` (never read:
    a FIFO would block for ever, ``/dev/zero`` never end)."""
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return hashlib.file_digest(f, "sha256").hexdigest()
    finally:
        if fd >= 0:
            os.close(fd)


def _kodak_folder(root: Path) -> Path:
    """``root`` itself if it holds Kodak files (``--data .../kodak24``), else ``root/kodak24``."""
    if (root / "kodim01.png").exists() or root.name == "kodak24":
        return root
    return root / "kodak24"


def _download(url: str, dest: Path) -> None:
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as f:
            f.write(response.read())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DatasetError(
            f"cannot download {url} ({exc}); put kodim01..24.png in {dest.parent} "
            "or point --data / SEMCODEC_DATA at a folder that holds them"
        ) from None
    tmp.replace(dest)


def kodak24(data: str | os.PathLike | None = None, download: bool = True) -> list[DatasetImage]:
    """The 24 Kodak images, downloaded if missing, each verified against its pinned digest."""
    folder = _kodak_folder(data_root(data))
    images = []
    for name, digest in KODAK24_SHA256.items():
        path = folder / name
        fresh = not path.exists()
        if fresh:
            if not download:
                raise DatasetError(f"{path} is missing")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatasetError(f"cannot create the data folder {folder} ({exc.strerror or exc})") from None
            _download(KODAK_URL.format(name=name), path)
        try:
            actual = sha256(path)
        except OSError as exc:
            raise DatasetError(f"{path}: {exc.strerror or exc}; put the pinned kodak24 file there "
                               "(or delete it to download it again)") from None
        if actual != digest:
            if fresh:  # never keep a download that fails its digest
                path.unlink()
            raise DatasetError(
                f"{path} fails its pinned SHA-256 (expected {digest[:12]}…, got {actual[:12]}…)"
                + ("; the download was discarded" if fresh else "; delete it to download it again")
            )
        images.append(DatasetImage(path.stem, path))
    return images


def is_kodak24(images: list[DatasetImage]) -> bool:
    """Whether ``images`` are exactly the 24 Kodak files, by their pinned digests."""
    if len(images) != len(KODAK24_SHA256):
        return False
    try:
        return sorted(sha256(im.path) for im in images) == sorted(KODAK24_SHA256.values())
    except OSError:
        return False


def folder(path: str | os.PathLike, what: str | None = None) -> list[DatasetImage]:
    """Every image file directly inside ``path``, sorted by name."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DatasetError(f"{what or 'dataset'}: {p} is not a folder")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise DatasetError(f"{what or 'dataset'}: no images in {p}")
    return [DatasetImage(i, f) for i, f in zip(unique_ids(files), files)]


def unique_ids(files: list[Path]) -> list[str]:
    """Ids (file stems) unique within a dataset: a.png and a.jpg are two images, so a colliding id
    keeps its suffix — and again until none collides (``a.png.webp``'s stem is ``a.png``). File
    names are unique in a folder, so this ends; two folders' files are refused if they still collide."""
    ids = [f.stem for f in files]
    while True:
        seen: dict[str, int] = {}
        for i in ids:
            seen[i] = seen.get(i, 0) + 1
        clash = [n for n, i in enumerate(ids) if seen[i] > 1 and ids[n] != files[n].name]
        if not clash:
            break
        for n in clash:
            ids[n] = files[n].name
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DatasetError(f"two images have the id {dup!r} ({', '.join(str(f) for f, i in zip(files, ids) if i == dup)})")
    return ids


def bsds500(data: str | os.PathLike | None = None, split: str = "val") -> list[DatasetImage]:
    """BSDS500 from a local folder (``DATA/bsds500/{train,val,test}`` or ``DATA/{split}``)."""
    root = data_root(data)
    for candidate in (root / "bsds500" / split, root / split, root):
        if candidate.is_dir() and any(candidate.glob("*.jpg")):
            return folder(candidate, "bsds500")
    raise DatasetError(
        f"bsds500: no images under {root}; download BSDS500 from the Berkeley Computer Vision "
        "Group's site and point --data at the folder holding train/ val/ test/"
    )


def voc2012(data: str | os.PathLike | None = None) -> list[DatasetImage]:
    """PASCAL VOC 2012 segmentation val images (JPEGImages + ImageSets/Segmentation/val.txt)."""
    root = data_root(data)
    for base in (root / "VOC2012", root / "VOCdevkit" / "VOC2012", root / "voc2012", root):
        ids_file = base / "ImageSets" / "Segmentation" / "val.txt"
        if ids_file.is_file():
            ids = [line.strip() for line in ids_file.read_text().splitlines() if line.strip()]
            return [DatasetImage(i, base / "JPEGImages" / f"{i}.jpg") for i in ids]
    raise DatasetError(
        f"voc2012: no ImageSets/Segmentation/val.txt under {root}; download VOCtrainval_11-May-2012 "
        "from the PASCAL VOC site, unpack it and point --data at VOCdevkit/VOC2012"
    )


NAMED = {"kodak24": kodak24, "bsds500": bsds500, "voc2012": voc2012}


def resolve(name_or_path: str, data: str | os.PathLike | None = None) -> tuple[str, list[DatasetImage]]:
    """A dataset name (kodak24, bsds500, voc2012) or a folder -> ``(dataset name, images)``."""
    if name_or_path in NAMED:
        return name_or_path, NAMED[name_or_path](data)
    p = Path(name_or_path).expanduser()
    if p.is_file() or (p.exists() and not p.is_dir()):
        raise DatasetError(f"dataset {name_or_path!r} is a file, not a folder of images")
    if p.is_dir():
        images = folder(p)
        if p.name in NAMED and not (p.name == "kodak24" and is_kodak24(images)):
            # a folder merely named like a verified set is labelled by its path, never as the set
            # (absolute: "kodak24/" or "./kodak24" would print as the set's own name)
            return str(p.resolve()), images
        return p.name, images
    raise DatasetError(
        f"unknown dataset {name_or_path!r}: use one of {', '.join(NAMED)} or a folder of images"
    )
