"""The HTML report renders in a real headless browser (Debian's Chromium): tables, images, no
console errors. Skipped where Chromium is not installed (`.ci/run` installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import call_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_html_report_renders_tables_and_images_without_console_errors(tmp_path, kodak_dir):
    from PIL import Image

    data = tmp_path / "q' \"<b>#% set"  # a hostile dataset name must not break the page
    data.mkdir()
    for name in ("kodim05", "kodim23"):
        Image.open(kodak_dir / f"{name}.png").resize((96, 64)).save(data / f"{name}.png")
    out = tmp_path / "r.jsonl"
    code, _, err = call_cli("bench", data, "--codecs", "bpg-ldpc,deep-jscc", "--snr", "0,10", "--out", out,
                            "--keep-images", tmp_path / "kept")
    assert code == 0, err
    code, _, err = call_cli("bench", data, "--codecs", "deep-jscc", "--snr", "10", "--bandwidth", "1/6",
                            "--out", out)
    assert code == 0, err
    code, _, err = call_cli("report", out, "--html", tmp_path / "html")
    assert code == 0, err
    page = tmp_path / "html" / "index.html"
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert "<table" in dom and "bpg-ldpc" in dom and "deep-jscc" in dom
    assert 'data-images-ok="true"' in dom, dom[-2000:]
    assert int(re.search(r'data-images="(\d+)"', dom).group(1)) >= 3  # curves, rate-distortion, grid
    console_errors = [line for line in proc.stderr.splitlines()
                      if "CONSOLE" in line and ("Error" in line or "Uncaught" in line or "Failed" in line)]
    assert not console_errors, console_errors
