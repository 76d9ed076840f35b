"""Pascanu et al.'s deep constructions (lstm.deep) for every cell kind: what they compute, their
gradients against finite differences, and what minigraph.graphviz draws of them."""
import heapq
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigraph as theano
import minigraph.tensor as T
from lstm.deep import ARCHS, DeepSpec, MLP, DeepTransitionCell
from lstm.layers import CELLS, Recurrent, SequenceModel, make_cell
from minigraph.graphviz import dot_source
from minigraph.testing import check_grad

# every registered kind (the registry names the peephole LSTM; peephole=True reaches it too)
KINDS = [(k, False) for k in CELLS] + ([] if "peephole" in CELLS else [("lstm", True)])
KIND_IDS = [k + ("-peephole" if p else "") for k, p in KINDS]


def model(arch, kind="lstm", peephole=False, depth=2, widths=None, head="many_to_many", **kw):
    kw = dict(dict(n_in=2, n_hidden=3, n_out=2, seed=3, dtype="float64"), **kw)
    return SequenceModel(kind, peephole=peephole, arch=arch, depth=depth, widths=widths, head=head, **kw)


def randomize(params, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for p in params:
        p.set_value(rng.normal(0, scale, p.get_value().shape))


# --------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("kind,peephole", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("arch", list(ARCHS))
def test_every_construction_gradient_matches_finite_differences(arch, kind, peephole):
    """d(outputs)/d(every parameter and the input), through the scan, against central differences."""
    m = model(arch, kind, peephole, depth=3 if arch in ("stacked", "dts") else 2)
    randomize(m.params, seed=1)
    rng = np.random.default_rng(2)
    Xv = rng.normal(size=(4, 2, 2))

    def fun(X, *params):
        return theano.clone_replace(m.build(X), dict(zip(m.params, params)))

    check_grad(fun, [Xv] + [p.get_value() for p in m.params])


# --------------------------------------------------------------------------- what they compute

def _run(outputs, X, Xv):
    return theano.function([X], outputs)(Xv)


def test_constructions_compute_what_the_table_says():
    """Each body equals the same network written out by hand from its parts."""
    rng = np.random.default_rng(4)
    Xv = rng.normal(size=(5, 2, 2))
    X = T.tensor3("X")
    for arch in ("deep-input", "dt", "dts", "do", "dot"):
        m = model(arch, "rnn", depth=3)
        randomize(m.params, seed=5)
        body = m.stack
        cell = body.cells[0]
        inp = body.input_mlp(X) if body.input_mlp else X
        if ARCHS[arch].transition:
            mlp = body.recurrent[0].mlp

            def step(x_t, h, cell=cell, mlp=mlp, shortcut=ARCHS[arch].shortcut):
                z = h
                for layer in mlp.layers:
                    z = T.tanh(T.dot(z, layer.W) + layer.b)
                if shortcut:  # the input weights read [x, z], the recurrent ones h directly
                    n = x_t.shape[1]
                    return T.tanh(T.dot(x_t, cell.W_x[:n]) + T.dot(z, cell.W_x[n:]) + T.dot(h, cell.W_h) + cell.b)
                return T.tanh(T.dot(x_t, cell.W_x) + T.dot(z, cell.W_h) + cell.b)
            H, _ = theano.scan(step, sequences=inp, outputs_info=T.zeros((2, 3), dtype="float64"))
        else:
            H = Recurrent(cell)(inp)[0]
        feats = body.output_mlp(H) if body.output_mlp else H
        want = T.dot(feats, m.head.W) + m.head.b
        a, b = _run([m.build(X), want], X, Xv)
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=arch)


def test_stacked_is_n_layers_of_stack_mode_with_the_same_weights():
    a = model("stacked", "gru", depth=3)
    b = SequenceModel("gru", n_in=2, n_hidden=3, n_out=2, n_layers=3, head="many_to_many", seed=3, dtype="float64")
    assert [p.name for p in a.params] == [p.name for p in b.params]
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    X = T.tensor3("X")
    Xv = np.random.default_rng(6).normal(size=(4, 2, 2))
    np.testing.assert_allclose(*_run([a.build(X), b.build(X)], X, Xv), rtol=1e-12)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_shapes_names_and_widths(arch):
    m = model(arch, "lstm", depth=3, widths=[5, 3] if arch in ("dt", "dot") else 5, head="many_to_one")
    X = T.tensor3("X")
    y = _run(m.build(X), X, np.ones((4, 6, 2)))
    assert y.shape == (6, 2)
    names = [p.name for p in m.params]
    assert len(names) == len(set(names))
    a = ARCHS[arch]
    mlp_widths = [p.get_value().shape[1] for p in m.params if re.match(r"(in|out_h|lstm0\.T)\d\.W$", p.name)]
    if arch == "shallow":
        assert mlp_widths == []
    elif a.stacked:
        assert len(m.cells) == 3
    else:  # two intermediate layers per deep path
        want = {"deep-input": [5, 5], "dt": [5, 3], "dts": [5, 5], "do": [5, 5], "dot": [5, 3, 5, 3]}[arch]
        assert sorted(mlp_widths) == sorted(want)
    hp = m.hparams()
    assert ("arch" in hp) == (arch != "shallow")


def test_bad_specs_are_reported():
    with pytest.raises(ValueError, match="arch must be one of"):
        DeepSpec("deep")
    with pytest.raises(ValueError, match="depth >= 2"):
        DeepSpec("dt", depth=1)
    with pytest.raises(ValueError, match="2 intermediate layers, but 1 widths"):
        model("do", depth=3, widths=[4])
    with pytest.raises(ValueError, match="hidden size 3"):
        model("dt", depth=2, widths=[4])
    with pytest.raises(ValueError, match="arch='stacked'"):
        SequenceModel("lstm", n_layers=2, arch="dt")
    with pytest.raises(ValueError, match="renamed 'input_to_all'"):
        SequenceModel("lstm", n_layers=2, mode="skip")
    cell = make_cell("rnn", 2, 3)
    with pytest.raises(ValueError, match="reads h"):
        DeepTransitionCell(cell, MLP(4, [3], np.random.default_rng(0), "m"), False, 2)


def test_masked_steps_keep_the_deep_transition_state():
    m = model("dts", "lstm", head="many_to_one")
    randomize(m.params, seed=7)
    Xv = np.random.default_rng(8).normal(size=(5, 2, 2))
    mask = np.ones((5, 2))
    mask[3:, 1] = 0
    X, M = T.tensor3("X"), T.matrix("M")
    y = theano.function([X, M], m.build(X, M))(Xv, mask)
    alone = theano.function([X], m.build(X))(Xv[:3, 1:])
    np.testing.assert_allclose(y[1], alone[0], rtol=1e-12)


# --------------------------------------------------------------------------- drawings

_NODE = re.compile(r'^\s*(n\d+) \[label=("(?:[^"\\]|\\.)*"|\S+) class=(\w+)')
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+)(.*)$")
_NONLINEAR = ("tanh", "sigmoid")


def parse_dot(src):
    """Nodes {name: (label, class, cluster)} and value-carrying edges [(src, dst)] of a minigraph drawing
    (invisible layout edges and the dashed 'next step' loop edges left out)."""
    nodes, edges, cluster = {}, [], [None]
    for line in src.splitlines():
        if line.strip().startswith("subgraph cluster_"):
            cluster.append(line.strip().split()[1])
        elif line.strip() == "}" and len(cluster) > 1:
            cluster.pop()
        elif (mn := _NODE.match(line)):
            nodes[mn.group(1)] = (mn.group(2).strip('"'), mn.group(3), cluster[-1])
        elif (me := _EDGE.match(line)) and "invis" not in me.group(3) and "next step" not in me.group(3):
            edges.append((me.group(1), me.group(2)))
    return nodes, edges


def fewest_nonlinearities(nodes, edges, start, goal):
    """The fewest tanh/sigmoid nodes on any path from ``start`` to ``goal`` (None: no path)."""
    out = {}
    for s, d in edges:
        out.setdefault(s, []).append(d)
    best, heap = {start: 0}, [(0, start)]
    while heap:
        cost, n = heapq.heappop(heap)
        if n == goal:
            return cost
        for d in out.get(n, ()):
            c = cost + (nodes[d][0] in _NONLINEAR)
            if c < best.get(d, 1 << 30):
                best[d] = c
                heapq.heappush(heap, (c, d))
    return None


def _drawing(arch, kind, peephole, depth):
    m = model(arch, kind, peephole, depth=depth)
    return parse_dot(dot_source(m.build(T.tensor3("X"))))


def _one(nodes, label, cls=None):
    found = [n for n, (lab, c, _) in nodes.items() if lab == label and (cls is None or c == cls)]
    assert len(found) == 1, (label, found)
    return found[0]


def _step_path(nodes, edges):
    """Fewest nonlinearities from h_{t-1} (the placeholder of carry 0) to h_t (carry 0) in the scan step."""
    return fewest_nonlinearities(nodes, edges, _one(nodes, "out0[t-1]"), _one(nodes, "carry 0"))


@pytest.mark.parametrize("kind,peephole", KINDS, ids=KIND_IDS)
def test_drawn_transition_depth_and_shortcut(kind, peephole):
    """In the drawn scan step, the shortest path h_{t-1} -> h_t crosses L - 1 more nonlinearities in
    DT and DOT than in the shallow cell, and none more in DT(S): its shortcut bypasses the deep
    transition.  Deep input and deep output leave the step as it is."""
    shallow = _step_path(*_drawing("shallow", kind, peephole, 1))
    assert shallow is not None
    for arch, depth, extra in (("dt", 2, 1), ("dt", 4, 3), ("dot", 3, 2), ("dts", 3, 0), ("deep-input", 3, 0),
                               ("do", 3, 0)):
        assert _step_path(*_drawing(arch, kind, peephole, depth)) == shallow + extra, (arch, depth)


@pytest.mark.parametrize("arch,depth,clusters,before,after", [
    ("shallow", 1, 1, 0, 0), ("stacked", 3, 3, 0, 0), ("deep-input", 3, 1, 2, 0), ("do", 3, 1, 0, 2),
    ("dot", 2, 1, 0, 1), ("dt", 3, 1, 0, 0)])
def test_drawn_layers_outside_the_scan(arch, depth, clusters, before, after):
    """One scan cluster per recurrent layer; the input MLP's tanh layers drawn between X and the scan,
    the output MLP's between the scan and the output, with their weights outside the step."""
    nodes, edges = _drawing(arch, "lstm", False, depth)
    scans = [n for n, (_, c, _) in nodes.items() if c == "scan"]
    assert len(scans) == clusters
    outside_tanh = [n for n, (lab, _, cl) in nodes.items() if lab == "tanh" and cl is None]
    assert len(outside_tanh) == before + after
    x, out = _one(nodes, "X", "input"), _one(nodes, "output", "output")
    assert fewest_nonlinearities(nodes, edges, x, scans[0]) == before
    for mlp, n in (("in", before), ("out_h", after)):
        shared = [lab for lab, c, cl in nodes.values() if c == "shared" and lab.startswith(mlp)]
        assert len(shared) == 2 * n
    last_carry = [n for n, (lab, c, cl) in nodes.items() if lab == "carry 0" and cl == f"cluster_{scans[-1]}"]
    assert fewest_nonlinearities(nodes, edges, last_carry[0], out) == after


@settings(max_examples=25, deadline=None)
@given(arch=st.sampled_from(list(ARCHS)), kind=st.sampled_from(KINDS), depth=st.integers(2, 3),
       hidden=st.integers(1, 4), width=st.one_of(st.none(), st.integers(1, 4)), n_in=st.integers(1, 3),
       steps=st.integers(1, 4), batch=st.integers(1, 3))
def test_any_sizes_build_and_run(arch, kind, depth, hidden, width, n_in, steps, batch):
    """Every construction, cell kind and size: the sequence of predictions has the right shape and
    is finite; each MLP layer has the width asked for (the last DT layer: the hidden size)."""
    m = model(arch, kind[0], kind[1], depth=depth, widths=width, n_in=n_in, n_hidden=hidden, n_out=2)
    X = T.tensor3("X")
    y = _run(m.build(X), X, np.random.default_rng(0).normal(size=(steps, batch, n_in)))
    assert y.shape == (steps, batch, 2) and np.all(np.isfinite(y))
    want = width or hidden
    for p in m.params:
        if re.match(r"(in|out_h)\d\.W$", p.name):
            assert p.get_value().shape[1] == want
        elif (mt := re.match(r"\w+0\.T(\d)\.W$", p.name)):
            last = int(mt.group(1)) == depth - 2
            assert p.get_value().shape[1] == (hidden if last and not ARCHS[arch].shortcut else want)


def test_checkpoint_of_a_construction_round_trips_and_refuses_another(tmp_path):
    from lstm.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    a = model("dts", "gru", depth=3, widths=[4, 5])
    randomize(a.params, seed=9)
    save_checkpoint(tmp_path / "c.npz", a.params, a.hparams())
    b = model("dts", "gru", depth=3, widths=[4, 5], seed=4)
    load_checkpoint(tmp_path / "c.npz", b.params, b.hparams())
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    other = model("dt", "gru", depth=3, widths=[4, 3])
    with pytest.raises(CheckpointError, match="arch"):
        load_checkpoint(tmp_path / "c.npz", other.params, other.hparams())
