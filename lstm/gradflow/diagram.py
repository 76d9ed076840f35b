"""The unrolled gradient-flow diagram, drawn with Graphviz: one panel per cell, one column per step.

Nodes are the states h_t (circles) and c_t (rounded boxes), filled by ``||dL/dstate_t||``;
backward edges carry their local Jacobian's label, its size and the gain it applies, coloured
and thickened by the gradient they carry, on one log scale for every panel.  The LSTM's cell
path, the constant-error carousel, sits on a yellow band.  A legend at the bottom explains the
colours, the edge labels ("gain") and the gate boxes.

The text uses only glyphs that common SVG renderers (librsvg, cairosvg, browsers) draw with
ordinary fonts: step numbers are Unicode subscript digits (h₁₂), not Graphviz's ``<SUB>`` (which
other renderers flatten), symbolic subscripts are written ``f_t``, and the elided steps are marked
with "..." rather than U+22EF (both checked with Liberation Sans, the usual Helvetica substitute).
"""
from __future__ import annotations

import math
import os

import struct
import zlib

from ..files import MARK, Output, check_image_suffix, has_mark, write_atomic
from .measure import DEFAULT_N_HIDDEN, DEFAULT_N_IN, DIAGONAL_EDGES, EDGE_LABELS, gradient_flow

__all__ = ["unrolled_dot", "render_unrolled", "write_picture", "check_format", "has_diagram_mark", "columns",
           "subscript", "legend", "DIAGRAM_FORMATS"]

# pale grey-blue (the gradient has died) -> blue -> purple -> red (alive); one scale for all panels
_RAMP = ("#d9dde3", "#9ab4d6", "#4f79b8", "#6b3fa0", "#c2185b", "#d32f2f")
_CEC_FILL, _CEC_LINE = "#fff4d6", "#e0b040"
_GATE_STYLE = dict(shape="box", style="rounded,filled", fillcolor="#f3f3f3", fontsize="9", color="#cccccc",
                   fontcolor="#555555", height="0.22", margin="0.06,0.02")
_SUBSCRIPTS = str.maketrans("0123456789", "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089")
ELLIPSIS = "..."


def subscript(text) -> str:
    """``12`` -> ``'₁₂'``: subscript digits, which the fonts SVG renderers fall back to all have (letter
    subscripts such as U+209C are missing from Liberation Sans, Helvetica's usual substitute: those
    stay as ``_t``)."""
    return str(text).translate(_SUBSCRIPTS)


def _colormap():
    from matplotlib.colors import LinearSegmentedColormap
    return LinearSegmentedColormap.from_list("gradflow", _RAMP)


class _Scale:
    """Log-scale colour and pen width for gradient norms, shared by every panel."""

    def __init__(self, values, floor_exp=-16):
        logs = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
        hi = math.ceil(max(logs)) if logs else 0
        lo = math.floor(min(logs)) if logs else -1
        self.lo, self.hi = max(lo, floor_exp, hi - 16), hi
        if self.lo >= self.hi:
            self.lo = self.hi - 1
        self.cmap = _colormap()

    def frac(self, v):
        if not (v > 0 and math.isfinite(v)):
            return 1.0 if v == math.inf else 0.0
        return min(1.0, max(0.0, (math.log10(v) - self.lo) / (self.hi - self.lo)))

    def color(self, v):
        from matplotlib.colors import to_hex
        return to_hex(self.cmap(self.frac(v)))

    def penwidth(self, v):
        return f"{0.6 + 5.4 * self.frac(v):.2f}"

    def font(self, v):
        return "white" if self.frac(v) > 0.45 else "black"

    def cells(self):
        """One coloured table cell per decade (every other decade on a wide scale)."""
        step = 1 if self.hi - self.lo <= 12 else 2
        out = []
        for e in range(self.lo, self.hi + 1, step):
            v = 10.0 ** e
            text = f"\u2264 1e{e}" if e == self.lo else f"1e{e}"
            out.append(f'<TD BGCOLOR="{self.color(v)}" WIDTH="46"><FONT COLOR="{self.font(v)}" '
                       f'POINT-SIZE="10">{text}</FONT></TD>')
        return "".join(out)


def legend(scale) -> str:
    """The legend under the panels (an HTML-like Graphviz label): the colour scale, what an edge's
    label and "gain" mean, the gate boxes and the yellow band."""
    def row(key, text):
        return (f'<TR><TD ALIGN="RIGHT" VALIGN="MIDDLE">{key}</TD>'
                f'<TD ALIGN="LEFT"><FONT POINT-SIZE="10">{text}</FONT></TD></TR>')
    gate = (f'<TABLE BORDER="1" COLOR="#cccccc" CELLBORDER="0" BGCOLOR="#f3f3f3" STYLE="ROUNDED">'
            f'<TR><TD><FONT POINT-SIZE="9" COLOR="#555555">i .52  f .73  o .50</FONT></TD></TR></TABLE>')
    band = (f'<TABLE BORDER="1" COLOR="{_CEC_LINE}" CELLBORDER="0" BGCOLOR="{_CEC_FILL}" STYLE="ROUNDED">'
            f'<TR><TD><FONT POINT-SIZE="9">c_t\u22121 \u2190 c_t</FONT></TD></TR></TABLE>')
    ramp = f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"><TR>{scale.cells()}</TR></TABLE>'
    rows = [
        row('<FONT POINT-SIZE="11">gradient norm (log)</FONT>', ramp),
        row("", "fills each node with \u2016\u2202L/\u2202state\u2016 (the number under its name); colours and "
                "thickens each edge by the gradient it carries"),
        row('<FONT POINT-SIZE="10">edge label</FONT>',
            "its local Jacobian J = \u2202state/\u2202earlier state; mean: mean of diag(J); "
            "\u2016\u00b7\u2016: spectral norm of J"),
        row('<FONT POINT-SIZE="10">gain</FONT>',
            "\u2016\u03b4\u00b7J\u2016 / \u2016\u03b4\u2016: the factor by which the edge really scales the "
            "gradient \u03b4 arriving from the right (a product of gains below 1 vanishes, above 1 explodes)"),
        row(gate, "mean gate activations at that step, forward pass (i input, f forget, o output; GRU: r reset, "
                  "z update)"),
        row(band, "the cell path: the constant-error carousel, factor diag(f_t) per step; dashed grey: cut"),
    ]
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">' + "".join(rows)
            + '</TABLE>>')


def columns(n, max_columns):
    """The steps drawn: all of 1..n when n <= max_columns, else the first ``max_columns // 2``,
    None (an ellipsis) and the last ``max_columns - max_columns // 2`` -- ``max_columns`` steps."""
    if max_columns < 2:
        raise ValueError(f"max_columns must be at least 2 (the first and the last step), got {max_columns}")
    if n <= max_columns:
        return list(range(1, n + 1))
    first = max_columns // 2
    return list(range(1, first + 1)) + [None] + list(range(n - (max_columns - first) + 1, n + 1))


def _fmt(v):
    return "0" if v == 0 else f"{v:.1e}".replace("e-0", "e-").replace("e+0", "e")


def _col_id(t):
    return "gap" if t is None else str(t)


class _Panel:
    """One cell's cluster: node ids, rows and title, from one ``gradient_flow`` result."""

    def __init__(self, flow, cols):
        self.flow, self.cols = flow, cols
        self.cell, self.cut = flow["cell"], flow["cut"]
        self.id = flow.get("panel") or flow["kind"].replace("-", "_")
        self.states = ["c", "h"] if self.cell.has_cell_state else ["h"]
        self.rows = self.states + (["gates"] if flow["gates"] else [])
        self.drawn = [t for t in cols if t is not None]

    def nid(self, state, t):
        return f"{self.id}_{state}_{_col_id(t)}"

    def title(self):
        fl, n = self.flow, self.flow["steps"]
        text = fl.get("title") or self.cell.label
        if self.cell.has_forget_gate and "title" not in fl:
            text += f", forget-gate bias {fl['forget_bias']:g}"
        if fl.get("weight_scale", 1.0) != 1.0:
            text += f", W_h \u00d7 {fl['weight_scale']:g}"
        if self.cell.has_cell_state:
            text += (" \u2014 cell path CUT by disconnected_grad(c_t\u22121)" if self.cut else
                     " \u2014 yellow band: the constant-error carousel c_t\u22121 \u2190 c_t")
        text += f".   \u2016\u2202L/\u2202h\u2081\u2016 = {_fmt(fl['norms']['h'][0])} after {n} steps"
        if self.cell.has_cell_state:
            text += f"\\lvertical edges h_t \u2192 c_t (inside a step): {EDGE_LABELS['hc']}\\l"
        return text


def _scale_for(flows, drawn):
    values = [1.0]
    for fl in flows:
        for v in fl["norms"].values():
            values += [float(v[t - 1]) for t in drawn]
        values += [e["flow"] for e in fl["edges"] if e["src"][1] in drawn and e["dst"][1] in drawn]
    return _Scale(values)


def _axis(g, cols, n, drawn):
    """The time axis: one plaintext header per drawn column, then the loss column."""
    names = [f"axis_{_col_id(t)}" for t in cols] + ["axis_loss"]
    for name, t in zip(names, cols + ["L"]):
        text = (f"t = {t}" if isinstance(t, int) else "loss" if t == "L"
                else f"{ELLIPSIS} {n - len(drawn)} steps {ELLIPSIS}")
        g.node(name, text, shape="plaintext", fontsize="12", fontcolor="#555555")
    for a, b in zip(names, names[1:]):
        g.edge(a, b, style="invis")


def _state_row(where, panel, state, scale):
    for t in panel.cols:
        if t is None:
            where.node(panel.nid(state, None), ELLIPSIS, shape="plaintext", fontsize="16")
            continue
        v = float(panel.flow["norms"][state][t - 1])
        where.node(panel.nid(state, t), f'<{state}{subscript(t)}<BR/><FONT POINT-SIZE="9">{_fmt(v)}</FONT>>',
                   shape="circle" if state == "h" else "box", style="filled" if state == "h" else "filled,rounded",
                   fillcolor=scale.color(v), fontcolor=scale.font(v), color="#333333", penwidth="1.2", width="0.6")


def _gate_row(where, panel):
    """Compact gate activations (forward values), one small box per step."""
    for t in panel.cols:
        if t is None:
            where.node(panel.nid("gates", None), "", shape="point", style="invis")
            continue
        text = "  ".join(f"{k} {v[t - 1]:.2f}".replace("0.", ".") for k, v in panel.flow["gates"].items())
        where.node(panel.nid("gates", t), text, **_GATE_STYLE)


def _panel_nodes(g, panel, scale):
    with g.subgraph(name=f"cluster_{panel.id}") as cl:
        cl.attr(label=panel.title(), labeljust="l", labelloc="t", fontsize="14", style="rounded", color="#888888",
                fontname="Helvetica-Bold")
        if "c" in panel.states:  # the cell path on its band: the constant-error carousel
            with cl.subgraph(name=f"cluster_{panel.id}_cec") as band:
                band.attr(label="", style="rounded,filled", fillcolor="#eeeeee" if panel.cut else _CEC_FILL,
                          color="#bbbbbb" if panel.cut else _CEC_LINE, penwidth="1.5")
                _state_row(band, panel, "c", scale)
        _state_row(cl, panel, "h", scale)
        if panel.flow["gates"]:
            _gate_row(cl, panel)
    for state in panel.rows:  # straight rows
        for a, b in zip(panel.cols, panel.cols[1:]):
            g.edge(panel.nid(state, a), panel.nid(state, b), style="invis", weight="10")


def _loss_node(g, panel, scale):
    n = panel.flow["steps"]
    loss_id = f"{panel.id}_loss"
    g.node(loss_id, f"L = r\u00b7h{subscript(n)}", shape="doubleoctagon", style="filled", fillcolor="#f9d3cd",
           color="#c0504d", fontsize="10")
    g.edge(panel.nid("h", n), loss_id, dir="back", label="r  (\u2016r\u2016 = 1)", color=scale.color(1.0),
           penwidth=scale.penwidth(1.0))
    return loss_id


def _edge_attrs(e, scale, cut):
    if e["key"] in DIAGONAL_EDGES:
        value = f"mean {e['value']:.2f}"
    else:  # the factor's spectral norm, and the gain it actually applies to this gradient
        value = f"\u2016\u00b7\u2016 {e['value']:.2f}, gain {e['gain']:.2f}"
    attrs = dict(dir="back", color=scale.color(e["flow"]), penwidth=scale.penwidth(e["flow"]),
                 label=f"{e['label']}\n{value}", fontcolor="#333333")
    if e["key"].startswith("cc"):
        attrs.update(weight="20")
        if cut:
            attrs.update(style="dashed", color="#999999", penwidth="1", arrowtail="tee", label=f"{e['label']}\nCUT")
    if e["src"][1] == e["dst"][1]:  # h_t -> c_t inside one step: its label is in the panel's title
        attrs.update(constraint="false")
        del attrs["label"]
    return attrs


def _panel_edges(g, panel, scale):
    """Backward edges, drawn with tail = the earlier step and dir=back so the layout runs left to right."""
    cols = panel.cols
    for e in panel.flow["edges"]:
        (s_state, s_t), (d_state, d_t) = e["src"], e["dst"]
        if s_t not in panel.drawn or d_t not in panel.drawn:
            continue
        if s_t != d_t and cols.index(s_t) != cols.index(d_t) + 1:
            continue
        g.edge(panel.nid(d_state, d_t), panel.nid(s_state, s_t), **_edge_attrs(e, scale, panel.cut))
    if None in cols:  # the ellipsis: dashed, coloured by the gradient at the hidden step next to it
        gi = cols.index(None)
        before, after = cols[gi - 1], cols[gi + 1]
        for state in panel.states:
            v_in = float(panel.flow["norms"][state][after - 2])   # step after - 1, the last hidden one
            v_out = float(panel.flow["norms"][state][before])     # step before + 1, the first hidden one
            g.edge(panel.nid(state, None), panel.nid(state, after), dir="back", style="dashed",
                   color=scale.color(v_in), penwidth=scale.penwidth(v_in))
            g.edge(panel.nid(state, before), panel.nid(state, None), dir="back", style="dashed",
                   color=scale.color(v_out), penwidth=scale.penwidth(v_out))


def _align_columns(g, cols, column_tops):
    """Every column on one rank, the axis above the panels, the panels in the order given."""
    for t in cols + ["L"]:
        order = [f"axis_{_col_id(t)}" if t != "L" else "axis_loss"] + [x for grp in column_tops[t] for x in grp]
        with g.subgraph() as s:
            s.attr(rank="same")
            for x in order:
                s.node(x)
        for a, b in zip(order, order[1:]):
            g.edge(a, b, style="invis")


def unrolled_dot(cells=("rnn", "lstm"), steps=50, forget_bias=1.0, seed=0, n_in=DEFAULT_N_IN,
                 n_hidden=DEFAULT_N_HIDDEN, max_columns=12, init="glorot", flows=None, weight_scale=1.0):
    """The unrolled gradient-flow diagram as a ``graphviz.Digraph`` (see ``render_unrolled``).

    ``flows``: ready ``gradient_flow`` results to draw instead of measuring ``cells`` (a flow may
    carry a ``'title'`` and a unique ``'panel'`` id, e.g. for a network before and after training).
    """
    import graphviz
    if flows is None:
        cells = [cells] if isinstance(cells, str) else list(cells)
        flows = [gradient_flow(k, steps, forget_bias, seed, n_in, n_hidden, init=init, weight_scale=weight_scale)
                 for k in cells]
    n = flows[0]["steps"]
    cols = columns(n, max_columns)
    drawn = [t for t in cols if t is not None]
    scale = _scale_for(flows, drawn)

    g = graphviz.Digraph(name="gradflow")
    g.attr(rankdir="LR", fontname="Helvetica", nodesep="0.3", ranksep="0.5", newrank="true", labelloc="b",
           labeljust="l", label=legend(scale))
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", fontname="Helvetica", fontsize="9", arrowsize="0.7")
    _axis(g, cols, n, drawn)
    column_tops = {t: [] for t in cols + ["L"]}  # per column, the first node of each panel (top to bottom)
    panels = [_Panel(fl, cols) for fl in flows]
    if len({p.id for p in panels}) != len(panels):
        raise ValueError("every panel needs its own id: give flows distinct 'panel' keys")
    for panel in panels:
        _panel_nodes(g, panel, scale)
        for t in cols:
            column_tops[t].append([panel.nid(r, t) for r in panel.rows])
        loss_id = _loss_node(g, panel, scale)
        pads = {r: f"{panel.id}_pad_{r}" for r in panel.rows if r != "h"}  # keep the loss level with h_T
        for pad in pads.values():
            g.node(pad, "", shape="point", style="invis", width="0.01")
        column_tops["L"].append([loss_id if r == "h" else pads[r] for r in panel.rows])
        _panel_edges(g, panel, scale)
    _align_columns(g, cols, column_tops)
    return g


BITMAP_FORMATS = ("png", "jpg", "jpeg", "gif", "bmp")


DIAGRAM_FORMATS = ("svg", "png", "pdf")  # what dot writes and we can mark as ours


def check_format(path, format=None):
    """The diagram format of ``path`` (its suffix, or ``format``); a one-line ``DataError``
    naming the choices for any other."""
    fmt = (format or os.path.splitext(str(path))[1][1:]).lower()
    check_image_suffix(f"{path}" if format is None else f"x.{fmt}", DIAGRAM_FORMATS, "diagram")
    return fmt


def _marked(data, fmt):
    """The rendered bytes with :data:`lstm.files.MARK` in them, so a later run may replace the file:
    an SVG comment, a PNG text chunk, a PDF comment after the end of the file."""
    if fmt == "svg":
        head, _, rest = data.partition(b"\n")
        return head + f"\n<!-- {MARK} -->\n".encode() + rest
    if fmt == "png":
        body = b"tEXt" + b"Software\x00" + MARK.encode()
        chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
        return data[:33] + chunk + data[33:]  # after the signature (8) and the IHDR chunk (25)
    return data + f"\n% {MARK}\n".encode()


def has_diagram_mark(path) -> bool:
    """True when ``path`` is a diagram this program wrote (the recogniser before it is replaced)."""
    return has_mark(path)


def render_unrolled(cells=("rnn", "lstm"), steps=50, forget_bias=1.0, path="flow.svg", seed=0, n_in=DEFAULT_N_IN,
                    n_hidden=DEFAULT_N_HIDDEN, max_columns=12, init="glorot", format=None, dpi=80, flows=None,
                    weight_scale=1.0):
    """Draw the unrolled backward pass of each cell in ``cells`` (or the given ``flows``), one panel
    (cluster) per cell, to ``path``.

    With more than ``max_columns`` steps the diagram shows the first and last ``max_columns / 2``
    and an ellipsis (the norms are always computed over all ``steps``).  Nodes are the states h_t
    (and c_t), filled by ``||dL/dstate_t||``; backward edges are labelled with their local Jacobian
    (``diag(f_t)`` on the LSTM's cell path, ``diag(1-h_t^2) W_h`` on the RNN's), its measured size
    and gain, and coloured and thickened by the gradient they carry, on one log scale for every
    panel (the legend at the bottom).  Rendered with Graphviz's ``dot``; the format is the suffix of
    ``path`` (svg, png, pdf, ...); ``dpi`` sets the resolution of bitmap formats.  Returns ``path``.
    """
    fmt = check_format(path, format)
    g = unrolled_dot(cells, steps, forget_bias, seed, n_in, n_hidden, max_columns, init, flows, weight_scale)
    if fmt in BITMAP_FORMATS:
        g.attr(dpi=str(dpi))
    return write_picture(g, path, fmt)


def write_picture(g, path, fmt):
    """Render the Digraph ``g`` with ``dot`` and write it to ``path`` atomically; returns ``path``."""
    import graphviz

    from minigraph.graphviz import INSTALL_HINT
    try:
        data = _marked(g.pipe(format=fmt), fmt)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(INSTALL_HINT) from None
    write_atomic(str(path), lambda fh: fh.write(data), what=Output(str(path), "diagram", has_diagram_mark))
    return path
