"""lstm.gradflow.cli: the ``lstm gradflow`` command -- its report, its checks before the work, and its
one-line errors."""
import json
import re
import shutil

import pytest

from lstm import gradflow as gf
from lstm.cli import build_parser

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def test_main_json(capsys):
    assert gf.main(["--json", "--cell", "all", "--steps", "6", "--ablation", "--hidden", "5"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert set(data) == {"rnn", "gru", "lstm", "peephole", "lstm1997", "lstm-cut", "peephole-cut", "lstm1997-cut"}
    for kind, d in data.items():
        assert set(d) == ({"h"} if kind in ("rnn", "gru") else {"h", "c"})
        assert all(len(v) == 6 for v in d.values())
        assert abs(d["h"][-1] - 1.0) < 1e-12
    assert gf.main(["--json", "--cell", "rnn", "--steps", "3"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"rnn"}


def test_json_honours_plot(tmp_path, capsys):
    plot = tmp_path / "n.png"
    assert gf.main(["--json", "--cell", "lstm", "--steps", "6", "--hidden", "4", "--seeds", "1",
                    "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[0])["lstm"]["h"][-1] == pytest.approx(1.0)
    assert f"wrote {plot}" in out and plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "expected a seed"),
    (["--out", "x.qqq"], "unknown image format .qqq"),
    (["--plot", "x.qqq"], "unknown image format .qqq"),
    (["--steps", "0"], "a positive integer"),
    (["--columns", "1"], "at least 2"),
    (["--forget-bias", "nan"], "a finite number"),
    (["--weight-scale", "0"], "a positive finite number"),
    (["--cell", "bogus"], "cell kind must be one of"),
])
def test_bad_values_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit):
        gf.main(argv)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_outputs_fail_before_the_work_in_one_line(tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("the work started before the paths were checked")
    monkeypatch.setattr(gf.cli, "gradient_flow", no_work)
    (tmp_path / "users.svg").write_text("<svg>the user's own drawing</svg>")
    cases = [
        (["--out", str(tmp_path / "missing" / "x.svg")], "does not exist"),
        (["--plot", str(tmp_path / "missing" / "n.png"), "--out", str(tmp_path / "f.svg")], "does not exist"),
        (["--json", "--plot", str(tmp_path / "missing" / "n.png")], "does not exist"),
        (["--plot", str(tmp_path / "n.png"), "--out", str(tmp_path / "n.png")], "same file"),
        (["--out", str(tmp_path / "users.svg")], "refusing to overwrite"),
        (["--checkpoint", str(tmp_path / "c.npz"), "--cell", "lstm"], "leave out --cell"),
        (["--checkpoint", str(tmp_path / "c.npz"), "--weight-scale", "2"], "does not apply to --checkpoint"),
    ]
    for argv, message in cases:
        assert gf.main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("lstm gradflow: error:") and message in err and err.count("\n") == 1, err


@needs_dot
def test_main_draws_and_reports_the_ratio(tmp_path, capsys):
    out = tmp_path / "flow.svg"
    assert gf.main(["--steps", "50", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    m = re.search(r"LSTM \(forget bias 1\) / RNN, same input: ([0-9.e+]+)", text)
    assert m and float(m.group(1)) > 1e3
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")


@needs_dot
def test_one_cell_gets_no_ratio_against_an_rnn_nobody_asked_for(tmp_path, capsys):
    assert gf.main(["--cell", "lstm", "--steps", "8", "--hidden", "4", "--out", str(tmp_path / "f.svg")]) == 0
    text = capsys.readouterr().out
    assert "RNN" not in text and "rnn" not in text and "lstm " in text


@needs_dot
def test_columns_reach_the_diagram(tmp_path):
    for columns in (4, 8):
        out = tmp_path / f"f{columns}.svg"
        assert gf.main(["--cell", "rnn", "--steps", "30", "--hidden", "4", "--columns", str(columns),
                        "--out", str(out)]) == 0
        svg = out.read_text(encoding="utf-8")
        assert len(set(re.findall(r"<title>rnn_h_(\d+)</title>", svg))) == columns


def test_plot_honours_forget_bias_and_gives_peepholes_their_colours(tmp_path, capsys):
    """matplotlib's SVG keeps each text as a comment: the legend can be read back."""
    plot = tmp_path / "n.svg"
    assert gf.main(["--json", "--cell", "all", "--steps", "5", "--hidden", "4", "--seeds", "1", "--forget-bias", "3",
                    "--plot", str(plot)]) == 0
    svg = plot.read_text(encoding="utf-8")
    assert "LSTM, forget bias 3" in svg and "peephole LSTM, forget bias 3" in svg
    assert "forget bias 0" not in svg and "forget bias 1 " not in svg
    lstm, peep = gf.plots.curve_color("lstm", 3.0), gf.plots.curve_color("peephole", 3.0)
    assert lstm != peep and lstm in svg and peep in svg


def test_gradflow_subcommand_of_lstm():
    args = build_parser().parse_args(["gradflow", "--cell", "lstm1997", "--weight-scale", "2", "--clip", "1"])
    assert args.cell == ["lstm1997"] and args.weight_scale == 2.0 and args.clip == 1.0


def test_errors_through_the_lstm_command_are_one_line(tmp_path, capsys):
    from lstm.cli import main as lstm_main
    for argv, message in ((["--out", str(tmp_path / "missing" / "x.svg")], "does not exist"),
                          (["--checkpoint", str(tmp_path / "none.npz")], "no checkpoint")):
        assert lstm_main(["gradflow"] + argv) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
