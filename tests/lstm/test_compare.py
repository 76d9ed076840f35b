"""lstm.compare: one honest stock run per setting and seed, one table."""
import numpy as np
import pytest

from lstm.compare import compare, main
from lstm.stock import PriceSeries


def test_compare_table_rows_and_persistence():
    rng = np.random.default_rng(0)
    series = PriceSeries(None, 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 200))), "synthetic")
    lines = compare(series, "hidden", [3, 5], [0, 1], dict(out=None, progress="off", epochs=1, window=5),
                    out=lambda *_: None)
    assert lines[0].startswith("| hidden | test RMSE")
    rows = [line.split(" | ") for line in lines[2:]]
    assert [r[0] for r in rows] == ["| 3", "| 5"]
    for r in rows:
        assert r[3] in ("0/2", "1/2", "2/2")
        p_values = [float(v) for v in r[4].split(", ")]
        assert len(p_values) == 2 and all(0 <= v <= 1 for v in p_values)


def test_compare_rejects_unknown_fields(capsys):
    with pytest.raises(SystemExit):
        main(["--vary", "colour=1,2"])
    assert "NAME one of" in capsys.readouterr().err
