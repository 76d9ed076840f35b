"""Graphviz pictures: DOT structure (kinds, scan clusters, grad-of links, highlighting), a golden
DOT text, real rendering with ``dot``, and the error when ``dot`` is missing."""
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigraph as mg
import minigraph.tensor as T
from minigraph import graphviz as G

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")

_NODE = re.compile(r"^\s*(n\d+) \[(.*)\]$")
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(?: \[(.*)\])?$")
_ATTR = re.compile(r'([\w]+)=("(?:[^"\\]|\\.)*"|[^\s"]+)')


def _attrs(text):
    return {k: v[1:-1] if v.startswith('"') else v for k, v in _ATTR.findall(text or "")}


def parse(source):
    """(nodes {name: attrs}, edges [(src, dst, attrs)], cluster names) of DOT text from to_dot."""
    nodes, edges = {}, []
    for line in source.splitlines():
        if m := _NODE.match(line):
            nodes[m[1]] = _attrs(m[2])
        elif m := _EDGE.match(line):
            edges.append((m[1], m[2], _attrs(m[3])))
    clusters = re.findall(r"subgraph (cluster_n\d+)", source)
    return nodes, edges, clusters


def by_class(nodes, cls):
    return {n for n, a in nodes.items() if a.get("class") == cls}


def lit(attrs):
    return attrs.get("color") == G.HIGHLIGHT["color"] and attrs.get("penwidth") == G.HIGHLIGHT["penwidth"]


def test_golden_three_node_graph():
    x = T.dscalar("x")
    y = T.tanh(x)
    y.name = "y"
    assert G.dot_source(y) == """\
digraph "graph" {
\tfontname=Helvetica nodesep=0.3 rankdir=TB ranksep=0.4
\tnode [fontname=Helvetica fontsize=11 height=0.35]
\tedge [arrowsize=0.7 color="#555555" fontname=Helvetica fontsize=9]
\tn0 [label=x class=input color="#4c9a4c" fillcolor="#d6f0d6" shape=ellipse style=filled]
\tn1 [label=tanh class=op color="#4a7ab5" fillcolor="#dbe9f6" shape=box style="rounded,filled"]
\tn2 [label=y class=output color="#c0504d" fillcolor="#f9d3cd" peripheries=2 shape=ellipse style=filled]
\tn0 -> n1
\tn1 -> n2
}
"""


def test_node_kinds_are_styled_distinctly():
    x = T.dvector("x")
    W = mg.shared(np.ones((3, 3)), name="W")
    out = T.exp(T.dot(W, x) + 2.0) * x
    nodes, edges, clusters = parse(G.dot_source([out, T.sum(out)]))
    counts = {k: len(by_class(nodes, k)) for k in G.STYLES}
    assert counts == dict(op=5, grad=0, scan=0, input=1, placeholder=0, constant=1, shared=1, output=2,
                          inner_output=0)
    assert not clusters
    shapes = {k: {nodes[n]["shape"] for n in by_class(nodes, k)} for k in ("op", "input", "shared", "output")}
    assert shapes == {"op": {"box"}, "input": {"ellipse"}, "shared": {"cylinder"}, "output": {"ellipse"}}
    assert len({nodes[next(iter(by_class(nodes, k)))]["fillcolor"] for k in
                ("op", "input", "constant", "shared", "output")}) == 5
    assert len(edges) == 2 + 2 + 1 + 2 + 1 + 2  # dot, add, exp, mul, sum, two outputs


def test_shapes_and_dtypes_only_on_demand():
    x = T.tensor("float32", (None, 3), name="x")
    y = T.tanh(x)
    plain = G.dot_source(y)
    assert "float32" not in plain and "(?,3)" not in plain
    assert "(?,3)" in G.dot_source(y, show_shapes=True) and "float32" not in G.dot_source(y, show_shapes=True)
    assert "float32" in G.dot_source(y, show_dtypes=True) and "?" not in G.dot_source(y, show_dtypes=True)
    nodes, _, _ = parse(G.dot_source(y, show_shapes=True, show_dtypes=True))
    assert nodes["n0"]["label"] == "x\\nfloat32(?,3)"


def test_unnamed_inputs_and_html_like_labels_are_escaped():
    x = T.dvector()
    y = T.exp(x)
    nodes, _, _ = parse(G.dot_source(y))
    assert nodes["n0"]["label"] == "float64(?)"


def test_same_graph_gives_same_text_and_ids_follow_traversal():
    def build():
        x, y = T.dscalar("x"), T.dscalar("y")
        return mg.grad(T.sin(x * y) + T.exp(y), [x, y])

    a, b = G.dot_source(build()), G.dot_source(build())
    assert a == b
    nodes, _, _ = parse(a)
    assert list(nodes) == [f"n{i}" for i in range(len(nodes))]


def _scan_graph():
    W = mg.shared(np.eye(3), name="W")
    X, h0 = T.dmatrix("X"), T.dvector("h0")
    hs, _ = mg.scan(lambda x_t, h: T.tanh(T.dot(W, h) + x_t), sequences=[X], outputs_info=[h0])
    cost = T.sum(hs)
    cost.name = "cost"
    return W, X, h0, hs, cost


def test_scan_is_a_cluster_linking_outer_inputs_to_placeholders():
    W, X, h0, hs, cost = _scan_graph()
    source = G.dot_source(cost)
    nodes, edges, clusters = parse(source)
    assert len(clusters) == 1 and len(by_class(nodes, "scan")) == 1
    label = {n: a["label"] for n, a in nodes.items()}
    name = {v: k for k, v in label.items()}
    placeholders = {label[n] for n in by_class(nodes, "placeholder")}
    assert placeholders == {"X[t]", "h0[t-1]", "W"}
    # each placeholder is declared inside the cluster
    body = source[source.index("subgraph cluster_"):]
    for n in by_class(nodes, "placeholder") | by_class(nodes, "scan") | by_class(nodes, "inner_output"):
        assert f"\t\t{n} [" in body
    flows = {(s, d) for s, d, a in edges if a.get("style") != "invis"}
    outer_of = {"X[t]": "X", "h0[t-1]": "h0"}
    for ph, outer in outer_of.items():
        assert (name[outer], name[ph]) in flows
    shared_w = next(iter(by_class(nodes, "shared")))
    assert (shared_w, name["W"]) in flows
    (carry,) = by_class(nodes, "inner_output")
    loops = [(s, d) for s, d, a in edges if a.get("label") == "next step"]
    assert loops == [(carry, name["h0[t-1]"])]
    assert (carry, name["sum{axis=[0, 1]}"]) in flows
    # without expansion the scan is one op node
    nodes, _, clusters = parse(G.dot_source(cost, expand_scan=False))
    assert not clusters and any(a["label"].startswith("scan{") for a in nodes.values())
    assert not by_class(nodes, "placeholder")


def test_grad_nodes_are_styled_and_linked_to_their_forward_node():
    x = T.dscalar("x")
    w = T.dscalar("w")
    y = T.tanh(x * w)
    g = mg.grad(y, x)
    nodes, edges, _ = parse(G.dot_source([y, g]))
    applies = mg.toposort([y, g])
    assert len(by_class(nodes, "grad")) == sum(n.tag.grad_of is not None for n in applies)
    assert len(by_class(nodes, "op")) == sum(n.tag.grad_of is None for n in applies)
    links = [(s, d) for s, d, a in edges if a.get("label") == "grad of"]
    assert all(edges_attr.get("style") == "dotted" for _, _, edges_attr in edges
               if edges_attr.get("label") == "grad of")
    differentiated = {id(n.tag.grad_of) for n in applies if n.tag.grad_of is not None}
    assert len(links) == len(differentiated) == 2  # tanh and mul
    assert {nodes[d]["label"] for _, d in links} == {"tanh", "mul"}
    assert all(nodes[s]["class"] == "grad" and nodes[d]["class"] == "op" for s, d in links)
    # the gradient of x*w does not use the forward mul: it is not drawn, so there is no link
    nodes, edges, _ = parse(G.dot_source(mg.grad(x * w, x)))
    assert by_class(nodes, "grad") and not [e for e in edges if e[2].get("label") == "grad of"]


def _expected_on_path(start, targets):
    """Labels of the applies on a path from ``start`` to ``targets``, found from mg.ancestors alone."""
    feeding = {id(v) for v in mg.ancestors(targets)}
    return sorted(str(n.op) for n in mg.toposort(targets)
                  if any(o is start for o in mg.ancestors(n.outputs))
                  and any(id(o) in feeding for o in n.outputs) and start not in n.outputs)


@pytest.mark.parametrize("which", ["x", "y", "z"])
def test_highlight_marks_exactly_the_nodes_on_paths(which):
    x, y, z = T.dscalar("x"), T.dscalar("y"), T.dscalar("z")
    start = {"x": x, "y": y, "z": z}[which]
    c = T.exp(x) * T.sin(y)
    out1 = T.tanh(c)
    out1.name = "o1"
    out2 = T.cos(y) - T.sqrt(z)
    out2.name = "o2"
    nodes, edges, _ = parse(G.dot_source([out1, out2], highlight_from=start))
    on = {n for n, a in nodes.items() if lit(a)}
    ops_on = sorted(nodes[n]["label"] for n in on if nodes[n]["class"] == "op")
    assert ops_on == _expected_on_path(start, [out1, out2])
    leaves_on = {nodes[n]["label"] for n in on if nodes[n]["class"] in ("input", "output")}
    outs = {"o1": out1, "o2": out2}
    assert leaves_on == {which} | {k for k, v in outs.items() if any(a is start for a in mg.ancestors([v]))}
    lit_edges = {(s, d) for s, d, a in edges if lit(a)}
    assert lit_edges == {(s, d) for s, d, a in edges if s in on and d in on}


def test_mark_paints_the_named_variables_and_the_edges_between_them():
    x = T.dscalar("x")
    a = T.exp(x)
    b = T.sin(a)
    out = b * T.cos(x)
    nodes, edges, _ = parse(G.dot_source(out, mark=[a, b]))
    gold = {n for n, at in nodes.items() if at.get("color") == G.MARK["color"]}
    assert sorted(nodes[n]["label"] for n in gold) == ["exp", "sin"]
    gold_edges = {(s, d) for s, d, at in edges if at.get("color") == G.MARK["color"]}
    assert gold_edges == {(s, d) for s, d, _ in edges if s in gold and d in gold} and len(gold_edges) == 1
    assert G.dot_source(out) == G.dot_source(out, mark=[])  # nothing marked: the picture is unchanged


def test_highlight_towards_cost_and_intermediate_start():
    x, y = T.dscalar("x"), T.dscalar("y")
    a = T.exp(x)
    cost = T.sin(a) + T.cos(y)
    cost.name = "cost"
    other = T.tanh(a)
    nodes, edges, _ = parse(G.dot_source([other], cost=cost, highlight_from=a))
    on = {nodes[n]["label"] for n, attrs in nodes.items() if lit(attrs)}
    assert on == {"exp", "sin", "add", "cost"}  # tanh leads to the output but not to the cost
    assert sorted(a["label"] for a in nodes.values() if a["class"] == "output") == ["cost", "output"]
    with pytest.raises(ValueError, match="not in the picture"):
        G.to_dot(other, highlight_from=y)


def test_highlight_through_a_scan_follows_the_carry_loop():
    W, X, h0, hs, cost = _scan_graph()
    nodes, edges, clusters = parse(G.dot_source(cost, highlight_from=h0))
    on = {nodes[n]["label"] for n, a in nodes.items() if lit(a)}
    # h0 enters as h0[t-1], goes through dot, add, tanh to the carry, then around the loop
    assert on == {"h0", "h0[t-1]", "dot", "add", "tanh", "carry 0", "sum{axis=[0, 1]}", "cost"}
    assert any(lit(a) and a.get("label") == "next step" for _, _, a in edges)


def test_function_draws_rewritten_graph_with_dashed_updates():
    x = T.dvector("x")
    W = mg.shared(np.ones(3), name="W")
    cost = T.sum(W * x)
    f = mg.function([x], cost, updates=[(W, W - 0.1 * mg.grad(cost, W))])
    nodes, edges, _ = parse(G.dot_source(f, highlight_from=x))
    (w,) = by_class(nodes, "shared")
    (upd,) = [(s, d, a) for s, d, a in edges if a.get("label") == "update"]
    assert upd[1] == w and upd[2]["style"] == "dashed"
    assert lit(upd[2])  # x feeds the update's value
    assert len(by_class(nodes, "output")) == 1


def test_to_dot_rejects_non_variables():
    with pytest.raises(TypeError, match="Variable"):
        G.to_dot([T.dscalar("x"), 3])


@needs_dot
def test_render_svg_and_png(tmp_path):
    W, X, h0, hs, cost = _scan_graph()
    g = mg.grad(cost, W)
    svg = G.render([cost, g], tmp_path / "g.svg", highlight_from=W)
    png = G.render([cost, g], str(tmp_path / "g.png"))
    assert png.endswith("g.png") and (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    texts = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert {"X", "h0", "W", "cost", "X[t]", "h0[t-1]", "tanh", "grad of"} <= texts
    classes = {t.get("class") for t in root.iter() if t.tag.endswith("}g")}
    assert {"node op", "node grad", "node placeholder", "cluster"} <= classes
    pdf = G.render(G.to_dot(cost), tmp_path / "g.out", format="pdf")
    assert open(pdf, "rb").read(4) == b"%PDF"


@needs_dot
def test_show_gives_svg_for_notebooks():
    x = T.dscalar("x")
    pic = G.show(T.exp(x))
    assert "<svg" in pic._repr_svg_() and ">exp<" in pic._repr_svg_()
    assert hasattr(G.to_dot(T.exp(x)), "_repr_mimebundle_")


def test_missing_dot_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    x = T.dscalar("x")
    for call in (lambda: G.render(T.exp(x), tmp_path / "g.svg"), lambda: G.show(T.exp(x))):
        with pytest.raises(RuntimeError, match="apt-get install graphviz") as err:
            call()
        assert "brew install graphviz" in str(err.value) and "conda install graphviz" in str(err.value)
    assert "exp" in G.dot_source(T.exp(x))  # drawing without rendering still works
    assert not (tmp_path / "g.svg").exists()


def test_render_needs_a_format():
    if shutil.which("dot") is None:
        pytest.skip("needs dot")
    with pytest.raises(ValueError, match="format"):
        G.render(T.exp(T.dscalar("x")), "picture")


def test_minigraph_does_not_import_graphviz_or_sympy():
    code = ("import sys, minigraph, minigraph.graphviz, minigraph.sympy_bridge; "
            "bad = [m for m in ('graphviz', 'sympy') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_dot
def test_pydotprint_is_theano_s_name_for_render(tmp_path, capsys):
    x = T.dvector("x")
    f = mg.function([x], T.tanh(x).sum())
    out = tmp_path / "f.png"
    assert mg.printing.pydotprint(f, outfile=str(out), var_with_name_simple=True) == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out) in capsys.readouterr().out
    image = mg.printing.pydotprint(T.tanh(x), format="svg", print_output_file=False, return_image=True)
    assert b"<svg" in image
