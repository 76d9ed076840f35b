"""lstm.gradflow.diagram: the unrolled diagram's structure, its columns, its legend, and SVG text that
survives renderers other than Graphviz's own."""
import re
import shutil

import pytest

from lstm import gradflow as gf
from lstm.data import DataError
from lstm.gradflow.diagram import ELLIPSIS, check_format, columns, has_diagram_mark, subscript

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def _node_defs(source, name):
    return re.findall(rf"^\s*{re.escape(name)} \[", source, re.M)


def test_dot_structure_full_columns():
    g = gf.unrolled_dot(("rnn", "lstm"), steps=6, n_in=3, n_hidden=4)
    src = g.source
    assert "subgraph cluster_rnn {" in src and "subgraph cluster_lstm {" in src
    assert "subgraph cluster_lstm_cec {" in src  # the highlighted constant-error carousel
    for t in range(1, 7):
        for name in (f"rnn_h_{t}", f"lstm_h_{t}", f"lstm_c_{t}", f"lstm_gates_{t}"):
            assert len(_node_defs(src, name)) == 1, name
    assert not _node_defs(src, "rnn_c_1")
    assert src.count('label="diag(f_t)') == 5
    assert src.count('label="diag(1\u2212h_t\u00b2) W_h') == 5
    assert src.count("\u2202c_t/\u2202h_t\u22121") == 5
    # the backward edges run from t to t-1: drawn tail = earlier step, dir=back
    assert re.search(r"lstm_c_1 -> lstm_c_2 \[[^\]]*dir=back", src)


def test_legend_explains_colours_gain_gates_and_band():
    src = gf.unrolled_dot(("gru", "lstm"), steps=5, n_in=3, n_hidden=4).source
    legend = src[src.index("label=<<TABLE"):]
    for words in ("gradient norm (log)", "gain", "spectral norm", "mean gate activations", "i input, f forget",
                  "r reset, z update", "constant-error carousel"):
        assert words in legend, words
    assert "BGCOLOR=\"#fff4d6\"" in legend  # the band's own colour, as in the panels


@pytest.mark.parametrize("max_columns, first, last", [(4, 2, 2), (8, 4, 4), (12, 6, 6), (5, 2, 3), (2, 1, 1)])
def test_columns_draws_as_many_steps_as_asked(max_columns, first, last):
    cols = columns(30, max_columns)
    assert cols == list(range(1, first + 1)) + [None] + list(range(31 - last, 31))
    assert len(cols) - 1 == max_columns
    assert columns(6, max_columns) == (list(range(1, 7)) if max_columns >= 6 else columns(6, max_columns))
    with pytest.raises(ValueError, match="at least 2"):
        columns(30, 1)


@pytest.mark.parametrize("max_columns", [4, 8, 12])
def test_diagram_has_the_columns_asked_for(max_columns):
    src = gf.unrolled_dot("rnn", steps=30, n_in=3, n_hidden=4, max_columns=max_columns).source
    drawn = {int(t) for t in re.findall(r"^\s*rnn_h_(\d+) \[", src, re.M)}
    assert len(drawn) == max_columns
    assert f"{30 - max_columns} steps" in src


def test_dot_elides_long_sequences():
    g = gf.unrolled_dot(("rnn", "lstm-cut"), steps=30, n_in=3, n_hidden=4, max_columns=6)
    src = g.source
    for t in (1, 2, 3, 28, 29, 30):
        assert len(_node_defs(src, f"rnn_h_{t}")) == 1
        assert len(_node_defs(src, f"lstm_cut_c_{t}")) == 1
    assert not _node_defs(src, "rnn_h_15") and len(_node_defs(src, "rnn_h_gap")) == 1
    assert f"{ELLIPSIS} 24 steps {ELLIPSIS}" in src
    assert "CUT" in src and "subgraph cluster_lstm_cut {" in src


def test_the_1997_lstm_panel():
    src = gf.unrolled_dot(("lstm1997",), steps=4, n_in=3, n_hidden=4).source
    assert "1997 LSTM (no forget gate)" in src and "subgraph cluster_lstm1997_cec {" in src
    assert src.count('label="I  (no forget gate)') == 3
    assert "forget-gate bias" not in src  # it has no forget gate to bias


def test_flows_with_panels_and_titles():
    """Given flows (e.g. before/after training) draw one panel each, under their own ids and titles."""
    flows = [gf.gradient_flow("lstm", 5, seed=s, n_in=3, n_hidden=4) for s in (0, 1)]
    flows[0].update(panel="before", title="LSTM before training")
    flows[1].update(panel="after", title="LSTM after training")
    src = gf.unrolled_dot(flows=flows).source
    assert "subgraph cluster_before {" in src and "subgraph cluster_after {" in src
    assert "LSTM before training" in src and "LSTM after training" in src
    with pytest.raises(ValueError, match="panel"):
        gf.unrolled_dot(flows=[flows[0], flows[0]])


def test_subscripts_and_formats():
    assert subscript(12) == "\u2081\u2082" and subscript("t") == "t"
    assert check_format("a/b.SVG") == "svg" and check_format("x", format="png") == "png"
    for bad in ("x.qqq", "noext"):
        with pytest.raises(DataError, match="unknown image format"):
            check_format(bad)


# glyphs that Liberation Sans has: the font fontconfig gives for "Helvetica" on Linux, and so what
# librsvg and cairosvg draw with (cairosvg does not fall back glyph by glyph: U+209C, U+2095 and
# U+208B came out as boxes); no U+22EF, no <SUB> (other renderers flatten it)
ALLOWED = set("\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089"
              "\u2016\u2202\u2190\u2192\u2212\u2264\u00b7\u00b2\u00d7\u03c3\u03b4\u2032\u2014\u2026")


@needs_dot
def test_svg_text_survives_other_renderers(tmp_path):
    path = gf.render_unrolled(("rnn", "gru", "lstm", "lstm1997"), steps=20, path=str(tmp_path / "flow.svg"),
                              n_in=3, n_hidden=4, max_columns=6)
    svg = open(path, encoding="utf-8").read()
    assert "baseline-shift" not in svg and "\u22ef" not in svg
    text = "".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    assert "h\u2081" in text and "c\u2082\u2080" in text
    unusual = {ch for ch in text if ord(ch) > 127} - ALLOWED
    assert not unusual, sorted(unusual)
    try:
        import cairosvg
    except (ImportError, OSError):  # cairosvg missing, or its cairo library
        pytest.skip("cairosvg is not installed")
    png = cairosvg.svg2png(url=path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_diagrams_carry_our_mark_and_replace_only_our_own(tmp_path, fmt):
    out = tmp_path / f"flow.{fmt}"
    gf.render_unrolled(("rnn", "lstm"), steps=20, path=str(out), n_in=3, n_hidden=4)
    first = out.read_bytes()
    assert has_diagram_mark(str(out)) and len(first) > 5_000
    if fmt == "png":  # still a valid PNG: cairosvg-free check of the chunk we inserted
        import zlib
        assert first[:8] == b"\x89PNG\r\n\x1a\n" and b"tEXtSoftware\x00minigraph-lstm" in first
        body = first[37:37 + 4 + 8 + 1 + 14]
        assert int.from_bytes(first[37 + len(body):41 + len(body)], "big") == zlib.crc32(body)
    gf.render_unrolled(("rnn",), steps=5, path=str(out), n_in=3, n_hidden=4)  # ours: replaced
    assert out.read_bytes() != first
    foreign = tmp_path / f"mine.{fmt}"
    foreign.write_bytes(b"a file the user wrote")
    with pytest.raises(DataError, match="refusing to overwrite"):
        gf.render_unrolled(("rnn",), steps=5, path=str(foreign), n_in=3, n_hidden=4)
    assert foreign.read_bytes() == b"a file the user wrote"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, foreign.name])  # no temporary files
