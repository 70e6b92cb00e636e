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
