import pytest

from fabricate.errors import InputError
from fabricate.printing import get_printer
from fabricate.printing.settings import Filament, build_settings, preset_settings

from conftest import SAMPLES, run_cli


def test_presets_follow_the_nozzle():
    mk4s = get_printer("prusa-mk4s")
    assert [preset_settings(mk4s, p).layer_height for p in ("draft", "standard", "fine")] == [0.28, 0.2, 0.12]
    fine = preset_settings(mk4s, "fine")
    assert fine.top_layers * fine.layer_height >= 0.96 and fine.wall_loops == 3


def test_overrides_apply_and_none_keeps_the_preset():
    s = build_settings(get_printer("bambu-a1"), "draft", layer_height=0.16, infill_density=None, supports="tree")
    assert s.layer_height == 0.16 and s.first_layer_height == 0.16
    assert s.infill_density == 10.0 and s.supports == "tree"


@pytest.mark.parametrize("changes,message", [
    (dict(layer_height=0.36), "80 % of the 0.4 mm nozzle"),
    (dict(infill_density=120), "infill density"),
    (dict(supports="everywhere"), "support mode"),
    (dict(infill_pattern="spaghetti"), "infill pattern"),
    (dict(brim_width_mm=-1), "brim"),
    (dict(support_threshold_deg=95), "threshold"),
])
def test_invalid_settings_are_named(changes, message):
    with pytest.raises(InputError, match=message):
        build_settings(get_printer("bambu-a1"), **changes)


def test_more_colours_than_the_printer_loads():
    with pytest.raises(InputError, match="loads at most 1"):
        build_settings(get_printer("prusa-mini-plus"), filaments=[Filament("#FF0000"), Filament("#00FF00")])
    with pytest.raises(InputError, match=r"loads at most 1 \(none\)"):
        build_settings(get_printer("prusa-mk4s"), filaments=[Filament("#FF0000"), Filament("#00FF00")])
    build_settings(get_printer("prusa-mk4s-mmu3"), filaments=[Filament("#FF0000")] * 5)
    with pytest.raises(InputError, match=r"loads at most 5 \(MMU3"):
        build_settings(get_printer("prusa-mk4s-mmu3"), filaments=[Filament("#FF0000")] * 6)


def test_cli_refuses_bad_settings_before_any_work(tmp_path):
    out = tmp_path / "x.3mf"
    for args, message in ((["--printer", "bambu-a1", "--layer-height", "0.4"], "80 %"),
                          (["--printer", "prusa-mini-plus", "--colors", "3"], "loads at most 1"),
                          (["--printer", "bambu-a1", "--palette", "#GG0000"], "palette"),
                          (["--printer", "bambu-a1", "--slicer", "cura"], "unknown slicer")):
        result = run_cli("make", SAMPLES[0], "-o", out, *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert not out.exists()
