"""lstm.gradflow.opgraph: minigraph's own gradient graph of an unrolled LSTM, the cell-state path found in it."""
import shutil

import numpy as np
import pytest

import minigraph as mg
from minigraph import graphviz as G
from lstm.gradflow.opgraph import cell_path, op_graph_dot, render_op_graph, unrolled_gradient

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def _mul_by(v, gate_names):
    """The forward gate (by name) that the product ``v`` multiplies the incoming gradient by, or None."""
    if v.owner is None or "mul" not in str(v.owner.op).lower():
        return None
    names = {i.name for i in v.owner.inputs}
    hits = names & gate_names
    return hits.pop() if hits else None


@pytest.mark.parametrize("steps", [2, 3, 4])
def test_the_cell_path_is_one_product_with_f_per_step(steps):
    u = unrolled_gradient("lstm", steps)
    path = cell_path(u["grad_c"], u["grad_h"])
    gates = {f"f{chr(0x2080 + t)}" for t in range(1, steps + 1)}
    products = sorted(g for g in (_mul_by(v, gates) for v in path) if g)
    assert products == sorted(gates)  # exactly one product with each f_t
    ids = {id(v) for v in path}
    for t in range(steps):  # every dL/dc_t is on it; no dL/dh_t is
        assert id(u["grad_c"][t]) in ids
        assert id(u["grad_h"][t]) not in ids


def test_the_drawn_gradient_is_the_real_one():
    """The graph drawn computes dL/dc_0: checked against central finite differences of the same
    unrolled forward pass."""
    u = unrolled_gradient("lstm", 3)
    xs = sorted((v for v in mg.graph_inputs([u["grad_c0"]]) if v.name and v.name.startswith("x")),
                key=lambda v: v.name)
    h0, c0, r = (next(v for v in mg.graph_inputs([u["grad_c0"]]) if v.name == n) for n in ("h\u2080", "c\u2080", "r"))
    rng = np.random.default_rng(0)
    vals = [rng.normal(size=(1, 2)) for _ in range(len(xs) + 3)]
    f = mg.function(xs + [h0, c0, r], [u["loss"], u["grad_c0"]])
    loss, g = f(*vals)
    eps = 1e-6
    for j in range(2):
        up, down = [v.copy() for v in vals], [v.copy() for v in vals]
        up[-2][0, j] += eps
        down[-2][0, j] -= eps
        assert np.isclose(g[0, j], (f(*up)[0] - f(*down)[0]) / (2 * eps), rtol=1e-6, atol=1e-10)


def test_the_picture_marks_the_path_in_gold():
    g = op_graph_dot("lstm", 3)
    src = g.source
    assert src.count(f'color="{G.MARK["color"]}"') >= 6  # nodes and edges of the path
    assert "f\u2081" in src and "f\u2083" in src and "\u2202L/\u2202c\u2080" in src
    assert "cell-state path" in src
    with pytest.raises(ValueError, match="has none"):
        unrolled_gradient("rnn")


def test_the_1997_lstm_path_has_no_forget_products():
    u = unrolled_gradient("lstm1997", 3)
    path = cell_path(u["grad_c"], u["grad_h"])
    assert path and not [v for v in path if _mul_by(v, {"f\u2081", "f\u2082", "f\u2083"})]


@needs_dot
def test_render(tmp_path):
    out = render_op_graph(str(tmp_path / "op.svg"), steps=1)  # dot lays out 3 steps in ~30 s
    assert open(out, encoding="utf-8").read().lstrip().startswith("<?xml")
