"""The import rules of the architecture (pyproject's [tool.importlinter] contracts) hold: e.g.
signal.py imports no channel, the library never imports the CLI, the model layer does not import
the metrics that use it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("lint-imports") is None and not Path(sys.executable).with_name("lint-imports").exists(),
                    reason="import-linter is not installed (pip install -e '.[test]')")
def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    out = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_the_codecs_package_holds_only_registered_codecs():
    """``codecs/`` is the room of registered codecs: every module there defines one an entry
    point names, or is the shared base class of such codecs (networks, links and source coders
    live in their own packages)."""
    from semcodec.registry import CODECS, registered

    registered_modules = {item.target.split(":")[0].rsplit(".", 1)[-1] for item in registered(CODECS).values()}
    bases = {"semantic"}  # SemanticCodec: what multi-sc, single-text and vlm-csc share
    modules = {p.stem for p in (ROOT / "semcodec" / "codecs").glob("*.py") if p.stem != "__init__"}
    assert modules - registered_modules - bases == set()
