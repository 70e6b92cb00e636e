"""Shared fixtures. Tests run offline (HF_HUB_OFFLINE=1) on ../shared/datasets only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("SEMCODEC_TEST_DATA", ROOT.parent / "shared" / "datasets"))
KODAK = DATASETS / "kodak24"


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, cwd: Path | None = None):
    """Run the CLI in a fresh process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "semcodec.cli", *map(str, args)], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd)


def no_models_env(tmp_path: Path) -> dict:
    """Environment of a machine with no pretrained weights: empty caches, no component overrides."""
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch")}
    for var in list(os.environ):
        if var.startswith("SEMCODEC_") and var not in ("SEMCODEC_TEST_DATA", "SEMCODEC_DATA"):
            env[var] = ""
    return env


@pytest.fixture(scope="session")
def kodak_dir() -> Path:
    if not (KODAK / "kodim23.png").exists():
        pytest.skip(f"test data not found at {KODAK}")
    return KODAK


@pytest.fixture(scope="session")
def train_dir(tmp_path_factory) -> Path:
    """Six BSDS500 training images: what a trainer may learn from (kodak24 is the test set)."""
    import shutil

    source = DATASETS / "bsds500" / "train"
    files = sorted(p for p in source.glob("*") if p.suffix.lower() in (".jpg", ".png"))[:6] if source.is_dir() else []
    if not files:
        pytest.skip(f"training data not found at {source}")
    folder = tmp_path_factory.mktemp("bsds6")
    for f in files:
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def kodim23(kodak_dir):
    from semcodec.imageio import load_image

    return load_image(kodak_dir / "kodim23.png")


@pytest.fixture(scope="session")
def small_image(kodim23):
    """A 192x256 crop of kodim23: big enough for MS-SSIM, small enough to be quick."""
    return kodim23[:, 160:352, 256:512].contiguous()


@pytest.fixture(scope="session")
def tiny_kit(tmp_path_factory):
    """Tiny random LLaVA, BLIP, BART, CLIP, SD + IP-Adapter and FCN, built once per session."""
    from semcodec.testing import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture(scope="module")
def tiny_models(tiny_kit):
    """The tiny kit in use (``SEMCODEC_<COMPONENT>``) for one test module, through the real code
    path; afterwards the machine has no models again (so no later record is made with them)."""
    from semcodec.testing import use_tiny_models

    paths = tiny_kit
    old = use_tiny_models(paths)
    yield paths
    for env, value in old.items():
        if value is None:
            os.environ.pop(env, None)
        else:
            os.environ[env] = value


#: Options that keep the tiny generator quick: 2 diffusion steps at 64 px, short captions.
TINY_OPTS = {"steps": 2, "resolution": 64, "max_new_tokens": 16}


@pytest.fixture(scope="session")
def tiny_kodak(kodak_dir, tmp_path_factory):
    """Three Kodak images downscaled to 96x64 (the semantic codecs' tests need no more)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("kodak_small")
    for name in ("kodim05", "kodim15", "kodim23"):
        Image.open(kodak_dir / f"{name}.png").resize((96, 64)).save(folder / f"{name}.png")
    return folder


def call_cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """Run the CLI's ``main()`` in this process (fast, for many cases): ``(exit code, out, err)``.

    Process-wide settings the CLI may change (model overrides, the pixel limit, --debug) are
    reset afterwards, so calls do not leak into each other.
    """
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from semcodec import cli
    from semcodec.limits import set_max_pixels
    from semcodec.models import source

    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["semcodec", *map(str, args)]
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
        set_max_pixels(None)
        source._overrides.clear()
        cli._DEBUG["on"] = False
        os.environ.pop("SEMCODEC_DEVICE", None)
    return code, out.getvalue(), err.getvalue()


def assert_clean_error(code: int, out: str, err: str, needle: str = "", exit_code: int = 2) -> None:
    """A user error: the given exit code, one short line on stderr, no traceback anywhere."""
    assert code == exit_code, (code, out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert needle.lower() in err.lower(), err
