"""Text views of graphs: ``debugprint`` (Theano-style indented tree) and ``pp`` (infix)."""
import os
import sys

from .graph import Constant, SharedVariable, Variable


def _letters(n):
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _outputs_of(obj):
    """Outputs (and labels) to print for a variable, a list of them, or a compiled function."""
    from .compile import Function
    if isinstance(obj, Function):
        outs = list(obj.outputs) + [u for _, u in obj.updates]
        labels = [None] * len(obj.outputs) + [f"update of {s}" for s, _ in obj.updates]
        return outs, labels
    if isinstance(obj, Variable):
        return [obj], [None]
    return list(obj), [None] * len(obj)


def debugprint(obj, file=None, print_type=True, ids="CHAR", depth=-1, print_destroy_map=False, _ids_of=None):
    """Print the graph of a variable, a list of variables or a compiled function as an indented tree.

    Each node gets an id (``[id A]``); a node already printed is shown by its id
    alone.  Ops with inner graphs (scan) print them after the main tree.
    Returns the text (and writes it to ``file``, stdout by default; ``file='str'`` only returns it).
    """
    outputs, labels = _outputs_of(obj)
    ids_of = {} if _ids_of is None else _ids_of  # inner graphs continue the outer graph's ids
    lines, inner = [], []

    def ident(v):
        key = id(v.owner) if v.owner is not None else id(v)
        if key not in ids_of:
            ids_of[key] = _letters(len(ids_of)) if ids == "CHAR" else str(len(ids_of))
        return ids_of[key]

    def label(v):
        t = f" {v.type}" if print_type else ""
        name = f" '{v.name}'" if v.name else ""
        if v.owner is None:
            kind = "shared " if isinstance(v, SharedVariable) else ""
            text = str(v) if isinstance(v, Constant) else (v.name or "<input>")
            return f"{kind}{text} [id {ident(v)}]{t}"
        idx = f".{v.index}" if len(v.owner.outputs) > 1 else ""
        return f"{v.owner.op}{idx} [id {ident(v)}]{name}{t}"

    printed = set()
    for out, lab in zip(outputs, labels):
        if lab:
            lines.append(f"# {lab}")
        stack = [(out, "", 0)]
        while stack:
            v, prefix, d = stack.pop()
            seen = v.owner is not None and id(v.owner) in printed
            lines.append(prefix + label(v) + (" ..." if seen and v.owner.inputs else ""))
            if v.owner is None or seen or (depth >= 0 and d >= depth):
                continue
            printed.add(id(v.owner))
            if hasattr(v.owner.op, "inner_graph"):
                inner.append(v.owner)
            for i in reversed(v.owner.inputs):
                stack.append((i, prefix + " |", d + 1))
    for node in inner:
        lines.append("")
        lines.append(f"Inner graph of {node.op} [id {ident(node.outputs[0])}]:")
        body = debugprint(node.op.inner_graph(), file="str", print_type=print_type, ids=ids, _ids_of=ids_of)
        lines.extend("  " + ln for ln in body.splitlines())
    text = "\n".join(lines)
    if file != "str":
        print(text, file=file or sys.stdout)
    return text


_INFIX = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**",
          "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "neq": "!="}


def pydotprint(fct, outfile=None, format="png", print_output_file=True, return_image=False, **ignored):
    """Theano's ``pydotprint``: draw a variable, list or compiled function with graphviz (see
    ``minigraph.graphviz.render``).  Without ``outfile`` the picture goes to a new temporary file.
    Theano's styling options are accepted and ignored.  Returns the path (the bytes with ``return_image``)."""
    import tempfile

    from . import graphviz
    if outfile is None:
        handle, outfile = tempfile.mkstemp(prefix="minigraph.pydotprint.", suffix="." + format)
        os.close(handle)
    graphviz.render(fct, outfile, format=format)
    if print_output_file:
        print("The output file is available at", outfile)
    if return_image:
        with open(outfile, "rb") as f:
            return f.read()
    return outfile


def pp(var, max_chars=20_000, max_inline=160):
    """Infix text of an expression, e.g. ``((x * W) + b)``.

    A subexpression used more than once, one longer than ``max_inline`` characters and every node with
    several outputs is printed once, named as debugprint names nodes (``[id A]``), below a ``where``
    line; so the text grows with the graph, not with the number of paths through it.  The text stops
    after about ``max_chars`` characters (None: no limit) with a line saying how much was left out.
    """
    from .graph import toposort
    nodes = toposort([var])
    uses = {}
    for node in nodes:
        for i in node.inputs:
            uses[id(i)] = uses.get(id(i), 0) + 1
    memo, defs = {}, []

    def define(text):
        name = f"[id {_letters(len(defs))}]"
        defs.append(f"{name} = {text}")
        return name

    for node in nodes:
        text = _pp_node(node, [_pp_leaf(i, memo) for i in node.inputs])
        if len(node.outputs) > 1:
            text = define(text)
            for o in node.outputs:
                memo[id(o)] = f"{text}[{o.index}]"
            continue
        out = node.outputs[0]
        shared = out is not var and (uses.get(id(out), 0) > 1 or len(text) > max_inline)
        memo[id(out)] = define(text) if shared else text
    return _capped([_pp_leaf(var, memo)] + (["where"] + ["  " + d for d in defs] if defs else []), max_chars)


def _pp_node(node, args):
    name = str(node.op)
    if name in _INFIX and len(args) == 2:
        return f"({args[0]} {_INFIX[name]} {args[1]})"
    if name == "neg":
        return f"-{args[0]}"
    return f"{name}({', '.join(args)})"


def _capped(lines, max_chars):
    """``lines`` joined, stopping at the line that passes ``max_chars`` characters."""
    total = 0
    for k, line in enumerate(lines):
        total += len(line) + 1
        if max_chars is not None and total > max_chars and k > 0:
            return "\n".join(lines[:k] + [f"... ({len(lines) - k} more lines; pp(var, max_chars=None) prints all)"])
    return "\n".join(lines)


def _pp_leaf(v, memo):
    if id(v) in memo:
        return memo[id(v)]
    if isinstance(v, Constant):  # numpy's printing is slow: each distinct small constant is printed once
        key = v.signature() if v.data.size <= 16 else id(v)
        if key not in memo:
            memo[key] = str(v)
        return memo[key]
    return v.name or f"<{v.type}>"
