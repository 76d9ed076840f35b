"""Graphviz pictures of minigraph graphs: ``to_dot`` / ``dot_source`` / ``render`` / ``show``.

Why a picture: the shape of a graph (what feeds what, where the gradient
nodes hang, what a scan loops over) is easier to see than to read in
``debugprint``.  The picture is built in two steps:

1. ``_Drawing`` walks the graph once and records plain nodes and edges with
   stable ids (``n0``, ``n1``, ... in traversal order, never ``id()``), so the
   DOT text is deterministic.  Op nodes are boxes; inputs, constants, shared
   variables and outputs are drawn as their own kinds.  Intermediate
   variables are the edges between ops (labelled when they have a name).
2. ``_emit`` turns the record into a ``graphviz.Digraph``.

The third-party ``graphviz`` package is imported only inside functions, so
``import minigraph`` never needs it; ``render`` and ``show`` also need the
``dot`` program.
"""
import os
import shutil

from .graph import Constant, SharedVariable, Variable, toposort

INSTALL_HINT = ("the Graphviz 'dot' program was not found on PATH; install Graphviz to render graphs "
                "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
                "conda: conda install graphviz). to_dot() and dot_source() work without it.")

HIGHLIGHT = {"color": "#d62728", "penwidth": "2.5"}
MARK = {"color": "#e0a000", "penwidth": "3", "fillcolor": "#fff1c4"}  # ``mark=``: a path the caller names

# Node styles by kind; the kind is also written as the DOT ``class`` (a CSS class in SVG output).
STYLES = {
    "op": dict(shape="box", style="rounded,filled", fillcolor="#dbe9f6", color="#4a7ab5"),
    "grad": dict(shape="box", style="rounded,filled", fillcolor="#eadcf2", color="#8e5ba8"),
    "scan": dict(shape="box", style="filled,bold", fillcolor="#fff2b3", color="#a8861e"),
    "input": dict(shape="ellipse", style="filled", fillcolor="#d6f0d6", color="#4c9a4c"),
    "placeholder": dict(shape="ellipse", style="filled,dashed", fillcolor="#e8f5e8", color="#4c9a4c"),
    "constant": dict(shape="box", style="filled", fillcolor="#eeeeee", color="#aaaaaa", fontcolor="#444444",
                     fontsize="9", height="0.25", margin="0.05,0.02"),
    "shared": dict(shape="cylinder", style="filled", fillcolor="#fde3bd", color="#c0862a"),
    "output": dict(shape="ellipse", style="filled", fillcolor="#f9d3cd", color="#c0504d", peripheries="2"),
    "inner_output": dict(shape="ellipse", style="filled,dashed", fillcolor="#fbe5e1", color="#c0504d"),
}

# Edge styles by kind; "data" and "loop" edges carry values (and so count for highlighting).
EDGE_STYLES = {
    "data": {},
    "loop": dict(style="dashed", color="#888888", fontcolor="#666666", constraint="false"),
    "update": dict(style="dashed", color="#c0862a", fontcolor="#a0661a", constraint="false"),
    "grad_of": dict(style="dotted", color="#8e5ba8", fontcolor="#8e5ba8", constraint="false", arrowhead="vee"),
    "steps": dict(style="invis", constraint="false"),  # n_steps reaches every output of a scan
    "layout": dict(style="invis"),  # keeps a scan's header box above its placeholders
}
_FLOW = ("data", "loop", "steps")


def _scan_class():
    from .scan import Scan  # scan imports compile/grad; keep module import light
    return Scan


def _roots(obj):
    """(outputs, updates, extra leaf inputs) for a Function, a Variable or a list of Variables."""
    from .compile import Function
    if isinstance(obj, Function):
        return list(obj.outputs), list(obj.updates), list(obj.inputs)
    if isinstance(obj, Variable):
        return [obj], [], []
    outs = list(obj)
    for v in outs:
        if not isinstance(v, Variable):
            raise TypeError(f"to_dot: expected a Variable, a list of Variables or a compiled Function, "
                            f"got a {type(v).__name__} in the list")
    return outs, [], []


def _type_text(v, show_shapes, show_dtypes):
    if show_shapes and show_dtypes:
        return str(v.type)
    if show_shapes:
        return "(" + ",".join("?" if s is None else str(s) for s in v.type.shape) + ")"
    if show_dtypes:
        return v.type.dtype
    return None


class _Drawing:
    """Nodes and edges of one picture, recorded in traversal order."""

    def __init__(self, show_shapes, show_dtypes, expand_scan):
        self.show_shapes, self.show_dtypes, self.expand_scan = show_shapes, show_dtypes, expand_scan
        self.nodes = []        # dicts: name, kind, lines, cluster
        self.edges = []        # dicts: src, dst, var (the value carried, if any), kind, label
        self.clusters = {}     # header name -> parent cluster (None = top level)
        self._src = {}         # (cluster, id(variable)) -> name of the node drawing it
        self._applies = {}     # id(Apply) -> node name (first drawing), for grad-of links
        self._grad_nodes = []  # (node name, forward Apply)

    def types(self, variables):
        texts = [_type_text(v, self.show_shapes, self.show_dtypes) for v in variables]
        return [", ".join(texts)] if texts and texts[0] else []

    def node(self, kind, lines, cluster):
        name = f"n{len(self.nodes)}"
        self.nodes.append(dict(name=name, kind=kind, lines=[ln for ln in lines if ln], cluster=cluster))
        return name

    def edge(self, src, dst, var=None, kind="data", label=None):
        self.edges.append(dict(src=src, dst=dst, var=var, kind=kind, label=label))

    # ---- variables
    def source(self, v, cluster):
        """Name of the node a variable's value comes from, drawing a leaf the first time it is met."""
        key = (cluster, id(v))
        if key in self._src:
            return self._src[key]
        if v.owner is not None:
            raise AssertionError(f"{v} used before its node was drawn")
        if isinstance(v, Constant):
            kind = "constant"
        elif isinstance(v, SharedVariable):
            kind = "shared"
        else:
            kind = "input"
        label = str(v) if kind == "constant" else (v.name or ("shared" if kind == "shared" else None))
        types = self.types([v]) if kind != "constant" or v.ndim else []  # "2." needs no "float64()"
        if label is None:  # unnamed input: its type is its label
            label, types = str(v.type), []
        self._src[key] = self.node(kind, [label] + types, cluster)
        return self._src[key]

    def edge_label(self, v):
        """Intermediate values are edges: label them with their name and, for multi-output ops, index."""
        if v.owner is None:
            return None
        parts = [f"out {v.index}"] if len(v.owner.outputs) > 1 and not self._expanded(v.owner) else []
        if v.name:
            parts.append(v.name)
        return " ".join(parts) or None

    def _expanded(self, node):
        return self.expand_scan and isinstance(node.op, _scan_class())

    # ---- applies
    def add_graph(self, outputs, cluster):
        for node in toposort(outputs):
            if self._expanded(node):
                self.add_scan(node, cluster)
            else:
                self.add_apply(node, cluster)

    def add_apply(self, node, cluster):
        kind = "grad" if node.tag.grad_of is not None else "op"
        srcs = [self.source(v, cluster) for v in node.inputs]  # leaves get their ids before the op
        name = self.node(kind, [str(node.op)] + self.types(node.outputs), cluster)
        self._note_apply(node, name)
        for v, src in zip(node.inputs, srcs):
            self.edge(src, name, v, label=self.edge_label(v))
        for v in node.outputs:
            self._src[(cluster, id(v))] = name

    def _note_apply(self, node, name):
        self._applies.setdefault(id(node), name)
        if node.tag.grad_of is not None:
            self._grad_nodes.append((name, node.tag.grad_of))

    def add_scan(self, node, cluster):
        """A scan is a cluster: a header box, the step's placeholders, its inner graph and its outputs.

        Outer inputs feed the placeholders; each inner output feeds the consumers of the matching
        outer output; dashed 'next step' edges close the carry loops.
        """
        op = node.op
        header = self.node("scan", [str(op)] + self.types(node.outputs), cluster)
        self.nodes[-1]["cluster"] = header  # the header box sits inside its own cluster
        self.clusters[header] = cluster
        self._note_apply(node, header)
        extra = len(node.inputs) - len(op.inner_inputs)  # n_steps: no placeholder inside the step
        for v in node.inputs[:extra]:
            self.edge(self.source(v, cluster), header, v, label="n_steps" if extra == 1 else None)
        for v, ph in zip(node.inputs[extra:], op.inner_inputs):
            self.edge(self.source(v, cluster), self._placeholder(ph, header), v, label=self.edge_label(v))
            self.edge(header, self._placeholder(ph, header), kind="layout")
        self.add_graph(op.inner_outputs, header)
        roles = (["carry"] * op.n_carry + ["y"] * op.n_ys + ["sum"] * op.n_sums)
        counts = {}
        inner_out = []
        for inner, outer, role in zip(op.inner_outputs, node.outputs, roles):
            k = counts[role] = counts.get(role, -1) + 1
            label = f"{role} {k}" + (f": {outer.name}" if outer.name else "")
            out = self.node("inner_output", [label] + self.types([outer]), header)
            self.edge(self.source(inner, header), out, inner, label=self.edge_label(inner))
            self._src[(cluster, id(outer))] = out
            self.edge(header, out, kind="steps")
            inner_out.append(out)
        for k in range(op.n_carry):
            ph = self._placeholder(op.inner_inputs[op.n_seqs + k], header)
            self.edge(inner_out[k], ph, kind="loop", label="next step")

    def _placeholder(self, ph, cluster):
        key = (cluster, id(ph))
        if key not in self._src:
            label = ph.name or str(ph.type)
            self._src[key] = self.node("placeholder", [label] + self.types([ph]), cluster)
        return self._src[key]

    # ---- finishing touches
    def add_outputs(self, outputs, labels):
        names = []
        for v, label in zip(outputs, labels):
            src = self.source(v, None)
            out = self.node("output", [label] + self.types([v]), None)
            self.edge(src, out, v)  # the output node already shows the name
            names.append(out)
        return names

    def add_grad_links(self):
        """One dotted 'grad of' edge per differentiated node, from the last of its gradient nodes
        (the one nearest the gradient's result): an edge from each would bury the picture."""
        last = {}
        for name, forward in self._grad_nodes:
            if id(forward) in self._applies:
                last.pop(id(forward), None)  # re-insert: edges come out in order of the last grad node
                last[id(forward)] = name
        for fwd, name in last.items():
            self.edge(name, self._applies[fwd], kind="grad_of", label="grad of")

    def highlight(self, start, targets):
        """Nodes on some path from variable ``start`` to the target nodes, and the indices of those edges."""
        src = self._src.get((None, id(start)))
        if src is None:
            raise ValueError(f"highlight_from: {start.describe()} is not in the picture")
        # Leave the start node only along edges carrying ``start`` itself (not a sibling output's).
        first = [e["dst"] for e in self.edges if e["src"] == src and e["var"] is start and e["kind"] in _FLOW]
        on = ({src} | _reach(first, self.edges, forward=True)) & _reach(targets, self.edges, forward=False)
        edges = {i for i, e in enumerate(self.edges) if e["src"] in on and (
            e["kind"] == "update" or e["kind"] in _FLOW and e["dst"] in on and (e["src"] != src or e["var"] is start))}
        return on, edges


def _reach(seeds, edges, forward):
    """Nodes reachable from ``seeds`` along value-carrying edges (forwards or backwards)."""
    nxt = {}
    for e in edges:
        if e["kind"] in _FLOW:
            a, b = (e["src"], e["dst"]) if forward else (e["dst"], e["src"])
            nxt.setdefault(a, []).append(b)
    seen, stack = set(seeds), list(seeds)
    while stack:
        for b in nxt.get(stack.pop(), ()):
            if b not in seen:
                seen.add(b)
                stack.append(b)
    return seen


def _label(lines):
    import graphviz
    text = "\\n".join(ln.replace("\\", "\\\\") for ln in lines)
    return graphviz.nohtml(text) if text.startswith("<") and text.endswith(">") else text


def _marked(drawing, variables):
    """Nodes that draw ``variables`` (top level), and the indices of the value edges between them."""
    nodes = {drawing._src[(None, id(v))] for v in variables if (None, id(v)) in drawing._src}
    edges = {i for i, e in enumerate(drawing.edges)
             if e["kind"] in _FLOW and e["src"] in nodes and e["dst"] in nodes}
    return nodes, edges


def _emit(drawing, name, rankdir, lit_nodes, lit_edges, marked=(set(), set())):
    import graphviz
    g = graphviz.Digraph(name=name)
    g.attr(rankdir=rankdir, fontname="Helvetica", nodesep="0.3", ranksep="0.4")
    g.attr("node", fontname="Helvetica", fontsize="11", height="0.35")
    g.attr("edge", fontname="Helvetica", fontsize="9", color="#555555", arrowsize="0.7")

    def emit(container, cluster):
        for nd in drawing.nodes:
            if nd["cluster"] == cluster:
                attrs = dict(STYLES[nd["kind"]], **{"class": nd["kind"]})
                if nd["name"] in marked[0]:
                    attrs.update(MARK)
                if nd["name"] in lit_nodes:
                    attrs.update(HIGHLIGHT)
                container.node(nd["name"], _label(nd["lines"]), **attrs)
        for header, parent in drawing.clusters.items():
            if parent == cluster:
                lit = any(nd["cluster"] == header and nd["name"] in lit_nodes for nd in drawing.nodes)
                with container.subgraph(name=f"cluster_{header}") as sub:
                    sub.attr(style="rounded,filled", fillcolor="#fbfaf2", label="",
                             **(HIGHLIGHT if lit else {"color": "#a8861e"}))
                    emit(sub, header)

    emit(g, None)
    for i, e in enumerate(drawing.edges):
        attrs = dict(EDGE_STYLES[e["kind"]])
        if e["label"]:
            attrs["label"] = _label([e["label"]])
        if i in marked[1]:
            attrs.update(color=MARK["color"], penwidth=MARK["penwidth"])
        if i in lit_edges:
            attrs.update(HIGHLIGHT)
        g.edge(e["src"], e["dst"], **attrs)
    return g


def to_dot(outputs, show_shapes=False, show_dtypes=False, highlight_from=None, cost=None, name="graph",
           rankdir="TB", expand_scan=True, mark=()):
    """A ``graphviz.Digraph`` of ``outputs``: a Variable, a list of them, or a compiled Function.

    For a Function its rewritten graph is drawn, each update as a dashed edge into its shared
    variable.  ``show_shapes`` / ``show_dtypes`` add static types to the labels.  Nodes built by
    ``grad`` are purple and linked by a dotted 'grad of' edge to the forward node they
    differentiate.  ``highlight_from=v`` paints every node and edge on a path from ``v`` to the
    outputs (or to ``cost``, drawn as an extra output when it is not one).  With ``expand_scan``
    a scan is a cluster holding its step graph.  ``mark`` (variables) paints the nodes computing
    them, and the edges between those nodes, in gold: a path the caller wants seen, e.g. the cell
    state's path through a gradient.  In a notebook the Digraph displays itself.
    """
    outs, updates, extra_inputs = _roots(outputs)
    single = len(outs) == 1
    labels = [v.name or ("output" if single else f"output {i}") for i, v in enumerate(outs)]
    if cost is not None and all(cost is not v for v in outs):
        outs, labels = outs + [cost], labels + [cost.name or "cost"]
    drawing = _Drawing(show_shapes, show_dtypes, expand_scan)
    drawing.add_graph(outs + [u for _, u in updates], None)
    out_nodes = drawing.add_outputs(outs, labels)
    update_srcs = []
    for shared_var, u in updates:
        update_srcs.append(drawing.source(u, None))
        drawing.edge(update_srcs[-1], drawing.source(shared_var, None), kind="update", label="update")
    for v in extra_inputs:
        drawing.source(v, None)  # inputs the rewritten graph no longer uses are still shown
    drawing.add_grad_links()
    lit_nodes, lit_edges = set(), set()
    if highlight_from is not None:
        targets = [out_nodes[-1]] if cost is not None else out_nodes + update_srcs
        lit_nodes, lit_edges = drawing.highlight(highlight_from, targets)
    return _emit(drawing, name, rankdir, lit_nodes, lit_edges, _marked(drawing, mark))


def dot_source(outputs, **kwargs):
    """The DOT text of ``to_dot(outputs, **kwargs)``."""
    return to_dot(outputs, **kwargs).source


def _require_dot():
    if shutil.which("dot") is None:
        raise RuntimeError(INSTALL_HINT)


def _as_digraph(obj, kwargs):
    import graphviz
    return obj if isinstance(obj, graphviz.Digraph) else to_dot(obj, **kwargs)


def render(obj, path, format=None, **kwargs):
    """Write a picture of ``obj`` (anything ``to_dot`` takes, or a Digraph) to ``path`` with ``dot``.

    ``format`` defaults to the file suffix (svg, png, pdf, ...).  Returns ``path``.
    """
    _require_dot()
    fmt = format or os.path.splitext(str(path))[1][1:].lower()
    if not fmt:
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; give a suffix or format='svg'")
    data = _as_digraph(obj, kwargs).pipe(format=fmt)
    with open(path, "wb") as f:
        f.write(data)
    return path


class Picture:
    """An SVG picture for notebooks (``_repr_svg_``); ``.digraph`` is the graphviz object."""

    def __init__(self, digraph):
        self.digraph = digraph
        self.svg = digraph.pipe(format="svg").decode("utf-8")

    def _repr_svg_(self):
        return self.svg

    def save(self, path, format=None):
        return render(self.digraph, path, format)


def show(obj, **kwargs):
    """Draw ``obj`` (a Variable, a list, a Function or a Digraph) for display in Jupyter."""
    _require_dot()
    return Picture(_as_digraph(obj, kwargs))
