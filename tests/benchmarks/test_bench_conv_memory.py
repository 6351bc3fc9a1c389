"""The per-layer memory benchmark measures the network's own layers in fresh processes and refuses unknown ones."""
import pytest

from benchmarks import bench_conv_memory


def test_each_layer_in_its_own_process_with_the_form_the_network_built():
    rows = [bench_conv_memory.run_case(name, "auto", 1, 64, 1) for name in ("conv1", "conv2")]
    assert [r["form"] for r in rows] == ["BandedConv2d", "DFTConv2d"]
    assert all(r["added_mb"] > 0 and r["median_ms"] > 0 for r in rows)
    assert "| conv2 | DFTConv2d (auto) | 1 x 64 |" in bench_conv_memory.table(rows)


def test_an_unknown_layer_is_named_in_the_error(capsys):
    with pytest.raises(SystemExit):
        bench_conv_memory.main(["--layers", "conv3"])
    assert "'conv3' is not conv1 or conv2" in capsys.readouterr().err
