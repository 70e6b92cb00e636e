"""The import rules of the architecture (pyproject's [tool.importlinter] contracts) hold: e.g.
signal.py imports no channel, the library never imports the CLI, the model layer does not import
the metrics that use it."""

import os
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


def _lint(root: Path, package_parent: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([exe, "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env=env)


needs_linter = pytest.mark.skipif(
    shutil.which("lint-imports") is None and not Path(sys.executable).with_name("lint-imports").exists(),
    reason="import-linter is not installed (pip install -e '.[test]')")


@needs_linter
@pytest.mark.parametrize("importer,imported", [("errors", "cli"), ("channel", "codec"), ("bench.executors", "bench.runner"),
                                               ("registry", "codec"), ("codecs.adjscc", "codecs.bpg_ldpc")])
def test_a_scratch_cycle_breaks_the_layered_contract(tmp_path, importer, imported):
    """The contract is not a list of forbidden pairs: any upward import fails it, a lazy one
    (inside a function) included. A scratch copy of the package gets one; lint-imports must fail."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "semcodec", copy / "semcodec", ignore=shutil.ignore_patterns("*.safetensors", "__pycache__",
                                                                                        "*.pt", "weights"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = copy / "semcodec" / (importer.replace(".", "/") + ".py")
    target.write_text(target.read_text() + f"\n\ndef _scratch():\n    from semcodec.{imported} import __name__ as n\n    return n\n")
    out = _lint(tmp_path, copy)
    assert out.returncode != 0, out.stdout[-2000:]
    assert "BROKEN" in out.stdout


@needs_linter
def test_the_unchanged_copy_keeps_the_contract(tmp_path):
    """The scratch test's copy passes as it is, so its failures come from the scratch import."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "semcodec", copy / "semcodec", ignore=shutil.ignore_patterns("*.safetensors", "__pycache__",
                                                                                        "*.pt", "weights"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    out = _lint(tmp_path, copy)
    assert out.returncode == 0, out.stdout[-2000:]


def test_every_module_has_a_room_in_the_plan():
    """Each top-level module and package of semcodec sits in a layer of the one contract, so a
    new module cannot slip past it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in config if c["type"] == "layers" and c["containers"] == ["semcodec"]]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    present = {p.stem for p in (ROOT / "semcodec").glob("*.py") if p.stem != "__init__"}
    present |= {p.name for p in (ROOT / "semcodec").iterdir() if (p / "__init__.py").is_file()}
    assert present - placed == set(), "add these to a layer in pyproject's [tool.importlinter]"
    assert placed - present == set()


def test_the_codecs_package_holds_only_registered_codecs():
    """``codecs/`` is the room of registered codecs: every module there defines one an entry
    point names, or is the shared base class of such codecs (networks, links and source coders
    live in their own packages)."""
    from semcodec.registry import CODECS, registered

    registered_modules = {item.target.split(":")[0].rsplit(".", 1)[-1] for item in registered(CODECS).values()}
    bases = {"semantic"}  # SemanticCodec: what multi-sc, single-text and vlm-csc share
    modules = {p.stem for p in (ROOT / "semcodec" / "codecs").glob("*.py") if p.stem != "__init__"}
    assert modules - registered_modules - bases == set()
