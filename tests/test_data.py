import shutil

import pytest

from semcodec import data
from semcodec.errors import DatasetError


def test_kodak24_verifies_pinned_digests(kodak_dir):
    images = data.kodak24(kodak_dir, download=False)
    assert [i.id for i in images] == [f"kodim{i:02d}" for i in range(1, 25)]
    sums = dict(line.split()[::-1] for line in (kodak_dir / "SHA256SUMS").read_text().splitlines() if line)
    assert sums == data.KODAK24_SHA256


def test_a_tampered_kodak_file_is_an_error_not_a_silent_use(kodak_dir, tmp_path):
    folder = tmp_path / "kodak24"
    shutil.copytree(kodak_dir, folder)
    raw = bytearray((folder / "kodim07.png").read_bytes())
    raw[-20] ^= 0xFF
    (folder / "kodim07.png").write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="kodim07.png fails its pinned SHA-256"):
        data.kodak24(folder, download=False)


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMCODEC_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    assert data.data_root("/x") == data.Path("/x")
    monkeypatch.delenv("SEMCODEC_DATA")
    assert data.data_root().name == "semcodec"


def test_any_folder_is_a_dataset_and_missing_named_ones_explain_themselves(kodak_dir, tmp_path):
    name, images = data.resolve(str(kodak_dir))
    assert name == "kodak24" and len(images) == 24
    with pytest.raises(DatasetError, match="PASCAL VOC"):
        data.resolve("voc2012", tmp_path)
    with pytest.raises(DatasetError, match="Berkeley"):
        data.resolve("bsds500", tmp_path)
    assert len(data.resolve("bsds500", kodak_dir.parent)[1]) == 100


class _Served:
    """Stands in for the Kodak host: serves files from a folder, optionally one tampered."""

    def __init__(self, folder, tamper=None):
        self.folder, self.tamper, self.urls = folder, tamper, []

    def __call__(self, url, timeout=None):
        import io

        self.urls.append(url)
        name = url.rsplit("/", 1)[-1]
        raw = bytearray((self.folder / name).read_bytes())
        if name == self.tamper:
            raw[100] ^= 1
        return io.BytesIO(bytes(raw))  # usable as a context manager, like a response


def test_kodak24_downloads_what_is_missing_and_verifies_it(kodak_dir, tmp_path, monkeypatch):
    served = _Served(kodak_dir)
    monkeypatch.setattr(data.urllib.request, "urlopen", served)
    images = data.kodak24(tmp_path)
    assert len(images) == 24 and len(served.urls) == 24
    assert served.urls[0] == "https://r0k.us/graphics/kodak/kodak/kodim01.png"
    assert (tmp_path / "kodak24" / "kodim24.png").exists()
    data.kodak24(tmp_path)
    assert len(served.urls) == 24  # nothing downloaded twice


def test_a_tampered_download_is_discarded(kodak_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(data.urllib.request, "urlopen", _Served(kodak_dir, tamper="kodim03.png"))
    with pytest.raises(DatasetError, match="download was discarded"):
        data.kodak24(tmp_path)
    assert not (tmp_path / "kodak24" / "kodim03.png").exists()


def test_a_copy_named_kodak24_is_labelled_by_its_path_however_it_is_spelt(kodak_dir, tmp_path, monkeypatch):
    """A folder named kodak24 with one image changed is not the verified set: "kodak24/",
    "./kodak24" and its absolute path all label it by its absolute path; the real one stays kodak24."""
    import shutil

    copy = tmp_path / "kodak24"
    shutil.copytree(kodak_dir, copy)
    raw = bytearray((copy / "kodim01.png").read_bytes())
    raw[-20] ^= 1  # inside the last chunk's CRC: still a file, not the pinned one
    (copy / "kodim01.png").write_bytes(bytes(raw))
    monkeypatch.chdir(tmp_path)
    for spelling in ("kodak24/", "./kodak24", str(copy), str(copy) + "/"):
        assert data.resolve(spelling)[0] == str(copy.resolve())
    monkeypatch.chdir(kodak_dir.parent)
    for spelling in ("kodak24/", "./kodak24"):
        assert data.resolve(spelling)[0] == "kodak24"
