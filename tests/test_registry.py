from importlib.metadata import EntryPoint

import pytest

from semcodec import registry
from semcodec.codec import load_codec
from semcodec.errors import RegistryConflict, UnknownName


class _Dist:
    def __init__(self, name):
        self.metadata = {"Name": name}


def _ep(name, value, dist):
    """An entry point as an installed distribution named ``dist`` would declare it."""
    return EntryPoint(name, value, registry.CODECS)._for(_Dist(dist))


@pytest.fixture
def fake_entry_points(monkeypatch):
    def install(*eps):
        registry.registered.cache_clear()
        monkeypatch.setattr(registry, "entry_points", lambda group: [e for e in eps if e.group == group])
    yield install
    registry.registered.cache_clear()


def test_builtins_are_entry_points_listed_without_import():
    import subprocess
    import sys

    code = ("import sys\nfrom semcodec.registry import CODECS, names\nprint(names(CODECS))\n"
            "print([m for m in sys.modules if m.startswith('semcodec.codecs.') or m == 'torch'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    listed, imported = out.stdout.strip().splitlines()
    assert "'bpg-ldpc'" in listed and "'deep-jscc'" in listed and "'uncoded-analog'" in listed
    assert imported == "[]"
    assert registry.registered(registry.CODECS)["deep-jscc"].distribution == "semcodec"


def test_duplicate_name_is_an_error_naming_both_distributions(fake_entry_points):
    fake_entry_points(_ep("dup", "a.mod:A", "pkg-one"), _ep("dup", "b.mod:B", "pkg-two"))
    with pytest.raises(RegistryConflict) as err:
        registry.names(registry.CODECS)
    assert "pkg-one" in str(err.value) and "pkg-two" in str(err.value)


def test_broken_plugin_is_reported_and_others_still_load(fake_entry_points):
    fake_entry_points(_ep("broken", "semcodec_no_such_module:X", "bad-plugin"),
                      _ep("deep-jscc", "semcodec.codecs.deep_jscc:DeepJsccCodec", "semcodec"))
    with pytest.raises(registry.PluginLoadError) as err:
        load_codec("broken")
    assert "bad-plugin" in str(err.value)
    assert load_codec("deep-jscc").name == "deep-jscc"
    with pytest.raises(UnknownName):
        load_codec("nope")


def test_codecs_command_shows_a_broken_plugin_without_failing(fake_entry_points, capsys):
    from semcodec.cli import transmit

    fake_entry_points(_ep("broken", "semcodec_no_such_module:X", "bad-plugin"),
                      _ep("deep-jscc", "semcodec.codecs.deep_jscc:DeepJsccCodec", "semcodec"))
    transmit.codecs_cmd()
    out = capsys.readouterr().out
    assert "broken" in out and "deep-jscc" in out


def _unit_gain_metric():
    """A plugin metric whose values lie in [0, 1] (loaded through its entry point below)."""
    from semcodec.metrics import Metric

    return type("UnitGain", (Metric,), {"name": "unit_gain", "bounds": (0.0, 1.0)})


def test_a_plugin_metrics_bounds_are_checked_when_records_are_read(fake_entry_points):
    from semcodec.bench.results_file import record_problem
    from semcodec.metrics import metric_bounds

    global UNIT_GAIN
    UNIT_GAIN = _unit_gain_metric()
    fake_entry_points(EntryPoint("unit_gain", "test_registry:UNIT_GAIN", "semcodec.metrics")._for(_Dist("gain-plugin")),
                      EntryPoint("broken", "semcodec_no_such_module:X", "semcodec.metrics")._for(_Dist("bad-plugin")))
    metric_bounds.cache_clear()
    try:
        assert metric_bounds() == {"unit_gain": (0.0, 1.0)}  # the broken plugin bounds nothing, stops nothing
        rec = {"dataset": "d", "image": "i", "codec": "c", "snr_db": 0.0, "seed": 0, "status": "ok",
               "channel": "awgn", "metrics": {"unit_gain": 7.0}, "bandwidth_ratio": 0.1}
        assert "metrics.unit_gain outside" in record_problem(rec)
        rec["metrics"]["unit_gain"] = 0.5
        assert "unit_gain" not in (record_problem(rec) or "")
    finally:
        metric_bounds.cache_clear()
