"""The op-level view: minigraph's real gradient graph of a short unrolled LSTM.

The state-level diagram (``diagram``) draws what the gradient *does*; this one draws the graph
minigraph actually builds to compute it.  The LSTM's step is unrolled in Python for a few steps
(3 by default; no scan, so every op is visible), the loss is ``L = sum(r * h_T)``, and
``mg.grad`` differentiates it with respect to the initial cell state ``c_0``.  The picture is
``minigraph.graphviz.to_dot`` of that gradient: forward ops blue, gradient ops purple, the
forward values named after the gates (``f_2``, ``i_2``, ``c_2`` ...) on the edges.

The cell-state path is painted gold: the gradient ops that carry ``dL/dc_t`` to ``dL/dc_{t-1}``
without passing through a hidden state's gradient -- for the LSTM one product with ``f_t`` (and
the sums that collect the other contributions) per step: the constant-error carousel, found in
the real graph rather than drawn by hand.
"""
from __future__ import annotations

import minigraph as mg
import minigraph.tensor as T
from minigraph.graph import toposort

from ..cells import CELLS
from .diagram import check_format, subscript, write_picture

__all__ = ["unrolled_gradient", "cell_path", "op_graph_dot", "render_op_graph"]


def unrolled_gradient(kind="lstm", steps=3, n_in=2, n_hidden=2):
    """The unrolled step graph of ``kind`` and its gradient: a dict with ``grad_c0`` (dL/dc_0), the
    per-step gradients ``grad_c`` (dL/dc_0..dL/dc_T) and ``grad_h`` (dL/dh_0..dL/dh_{T-1}), and ``loss``."""
    kind = CELLS[kind]
    if not kind.has_cell_state:
        raise ValueError(f"the op-level view follows a cell state; {kind.name!r} has none")
    cell = kind.make(n_in, n_hidden, dtype="float64")
    xs = [T.matrix(f"x{subscript(t)}", dtype="float64") for t in range(1, steps + 1)]
    h, c = T.matrix(f"h{subscript(0)}", dtype="float64"), T.matrix(f"c{subscript(0)}", dtype="float64")
    hs, cs = [h], [c]
    for t, x in enumerate(xs, start=1):
        (h, c), gates = cell.step_with_gates(x, h, c)
        for name, v in gates.items():
            v.name = f"{name}{subscript(t)}"
        h.name, c.name = f"h{subscript(t)}", f"c{subscript(t)}"
        hs.append(h)
        cs.append(c)
    loss = (h * T.matrix("r", dtype="float64")).sum()
    loss.name = "L"
    grads = mg.grad(loss, cs + hs[:-1])
    grad_c, grad_h = grads[:len(cs)], grads[len(cs):]
    for t, g in enumerate(grad_c):
        g.name = f"\u2202L/\u2202c{subscript(t)}"
    for t, g in enumerate(grad_h):
        g.name = f"\u2202L/\u2202h{subscript(t)}"
    return dict(grad_c0=grad_c[0], grad_c=grad_c, grad_h=grad_h, loss=loss, cell=cell)


def cell_path(grad_c, grad_h):
    """The variables on the gradient's cell-state path: those computed from ``dL/dc_T`` on the way
    to ``dL/dc_0`` without passing through a hidden state's gradient ``dL/dh_t``."""
    stop = {id(g) for g in grad_h}
    nodes = toposort([grad_c[0]])
    ancestors = {id(grad_c[0])}
    for node in reversed(nodes):  # walk up from dL/dc_0, not through dL/dh_t
        if any(id(o) in ancestors for o in node.outputs):
            ancestors.update(id(v) for v in node.inputs if id(v) not in stop)
    on_path = {id(grad_c[-1])}
    for node in nodes:  # walk down from dL/dc_T, inside those ancestors
        if any(id(v) in on_path for v in node.inputs):
            on_path.update(id(o) for o in node.outputs if id(o) in ancestors)
    by_id = {id(v): v for node in nodes for v in node.outputs}
    return [by_id[i] for i in on_path if i in by_id]


def op_graph_dot(kind="lstm", steps=3, n_in=2, n_hidden=2):
    """The gradient graph of ``unrolled_gradient`` as a ``graphviz.Digraph``, the cell path in gold."""
    from minigraph.graphviz import to_dot
    u = unrolled_gradient(kind, steps, n_in, n_hidden)
    path = cell_path(u["grad_c"], u["grad_h"])
    g = to_dot(u["grad_c0"], name="op_graph", rankdir="TB", mark=path)
    g.attr(label=f"minigraph's gradient graph dL/dc\u2080 of a {steps}-step {CELLS[kind].label} "
                 "(blue: forward ops, purple: gradient ops; gold: the cell-state path, one product with f_t "
                 "per step)", labelloc="t", fontsize="14")
    return g


def render_op_graph(path="op_graph.svg", kind="lstm", steps=3, dpi=60):
    """Write ``op_graph_dot`` to ``path`` (format by suffix); returns ``path``."""
    fmt = check_format(path)
    g = op_graph_dot(kind, steps)
    if fmt in ("png", "jpg", "jpeg", "gif", "bmp"):
        g.attr(dpi=str(dpi))
    return write_picture(g, path, fmt)
