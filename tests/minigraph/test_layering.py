"""Layering: the core needs only numpy; the core never imports the edges (printing, graphviz, sympy
bridge, testing helpers), which import their own libraries lazily; and every import, at module level
or inside a function, goes down the layers (docs/architecture.md), except the documented conveniences."""
import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "minigraph")
EDGES = {"printing", "graphviz", "sympy_bridge", "testing",
         "numba", "numba_cache", "numba_emit", "numba_math", "numba_runtime", "jax_backend", "jax_scan"}  # backends load their library lazily
HEAVY = ("sympy", "graphviz", "matplotlib", "scipy", "pandas", "hypothesis", "pytest")


def _third_party_after(code):
    """Top-level modules outside the standard library that running ``code`` in a fresh interpreter loads,
    beyond those the interpreter loads by itself (a sitecustomize may preload certifi, say)."""
    probe = ("import sys, json\n"
             "before = {m.split('.')[0] for m in sys.modules}\n"
             f"{code}\n"
             "names = {m.split('.')[0] for m in sys.modules} - before - set(sys.stdlib_module_names)\n"
             "print(json.dumps(sorted(n for n in names if not n.startswith('_'))))")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("MINIGRAPH_MODE", None)  # numpy mode: a backend loads its own library when asked for
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _only_numpy(loaded):
    """What matters: nothing heavy, not the lstm package, and nothing but numpy besides minigraph."""
    assert not loaded & set(HEAVY), loaded
    assert "lstm" not in loaded
    assert loaded - {"minigraph"} <= {"numpy"}, loaded


def _all_modules():
    """{module name: path} of every module of the package but its __init__."""
    found = {}
    for dirpath, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                found[os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")] = path
    found.pop("minigraph")
    return dict(sorted(found.items()))


def _core_files():
    """{module name: path} of the core: every module of the package except the edges."""
    return {m: p for m, p in _all_modules().items() if m.split(".")[-1] not in EDGES}


def test_import_minigraph_loads_only_numpy():
    _only_numpy(_third_party_after("import minigraph, minigraph.tensor as T"))


def test_using_the_core_loads_only_numpy():
    code = ("import numpy as np, minigraph as theano, minigraph.tensor as T\n"
            "x = T.dmatrix('x'); w = theano.shared(np.ones((2, 2)), 'w')\n"
            "c = T.nnet.softmax(T.dot(x, w)).sum(); g = T.grad(c, w)\n"
            "theano.function([x], [c, g], updates=[(w, w - g)])(np.ones((3, 2)))\n"
            "theano.debugprint(c, file='str'); theano.pp(c)")
    _only_numpy(_third_party_after(code))


def test_every_core_module_imports_only_numpy():
    mods = list(_core_files())
    assert {"minigraph.graph", "minigraph.grad", "minigraph.compile", "minigraph.ops.elemwise",
            "minigraph.tensor"} <= set(mods)
    _only_numpy(_third_party_after("\n".join(f"import {m}" for m in mods)))


@pytest.mark.parametrize("module", list(_core_files()))
def test_core_module_does_not_import_the_edges(module):
    """Module-level imports only (a method may reach an edge lazily, e.g. Function.debugprint)."""
    tree = ast.parse(open(_core_files()[module]).read())
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "minigraph." + (node.module or "") if node.level else node.module
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            assert not set(name.split(".")) & EDGES, f"{module} imports {name}"
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in ("numpy", "minigraph"), \
                f"{module} imports the third-party module {name}"


# ---- the layers, lowest first (docs/architecture.md)
LAYERS = [
    ("minigraph.config", "minigraph.graph", "minigraph.testvalue", "minigraph.lowering"),
    ("minigraph.ops",),
    ("minigraph.tensor", "minigraph.randomstreams", "minigraph.sandbox"),
    ("minigraph.grad", "minigraph.gradient"),
    ("minigraph.rewrite",),
    ("minigraph.mode", "minigraph.buffers"),
    ("minigraph.compile",),
    ("minigraph.backends",),      # drivers lowering a compiled program (numba, JAX); scan lowers its own loops with them
    ("minigraph.scan", "minigraph.scan_module", "minigraph.ifelse"),  # own compiled programs: above the compiler
    ("minigraph.printing", "minigraph.graphviz", "minigraph.sympy_bridge", "minigraph.testing"),
]
# Imports that go up, each a documented convenience (and all inside a function or at the end of a module).
UPWARD = {
    ("minigraph.graph", "minigraph.compile"): "Variable.eval compiles the variable",
    ("minigraph.compile", "minigraph.printing"): "Function.debugprint",
    ("minigraph.tensor", "minigraph.grad"): "Theano's tensor namespace holds grad (T.grad)",
    ("minigraph.grad", "minigraph.scan"): "jacobian and hessian loop with scan, as Theano's do",
    ("minigraph.gradient", "minigraph.testing"): "theano.gradient.verify_grad, loaded on first use",
    ("minigraph.tensor", "minigraph.testing"): "theano.tensor.verify_grad, loaded on first use",
}


def _layer(module):
    for rank, layer in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return rank, next(m for m in layer if module == m or module.startswith(m + "."))
    raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/architecture.md)")


def _imports(module, path):
    """Every minigraph module that ``module`` imports, anywhere in its source."""
    is_pkg = path.endswith("__init__.py")
    package = module if is_pkg else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("minigraph"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = base + ("." + node.module if node.module else "")
            else:
                target = node.module or ""
            if not target.startswith("minigraph"):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.add(sub if sub in _all_modules() else target)
    return found - {"minigraph", module}


@pytest.mark.parametrize("module", sorted(_all_modules()))
def test_imports_go_down_the_layers(module):
    rank, name = _layer(module)
    for target in sorted(_imports(module, _all_modules()[module])):
        t_rank, t_name = _layer(target)
        if t_rank > rank:
            assert (name, t_name) in UPWARD, f"{module} imports {target}, a higher layer"


def test_the_layer_table_is_complete_and_the_exceptions_are_used():
    mods = _all_modules()
    for m in mods:
        _layer(m)
    used = {(_layer(m)[1], _layer(t)[1]) for m, p in mods.items() for t in _imports(m, p)}
    assert set(UPWARD) <= used, set(UPWARD) - used
