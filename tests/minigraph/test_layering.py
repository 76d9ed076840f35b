"""Layering: the core needs only numpy, and the core never imports the edges (printing, graphviz, sympy
bridge, testing helpers); the edges import their own libraries lazily."""
import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "minigraph")
EDGES = {"printing", "graphviz", "sympy_bridge", "testing", "jax_backend", "jax_scan"}  # backends load lazily
HEAVY = ("sympy", "graphviz", "matplotlib", "scipy", "pandas", "hypothesis", "pytest")


def _third_party_after(code):
    """Top-level modules outside the standard library that are loaded after running ``code`` in a fresh
    interpreter."""
    probe = (f"{code}\nimport sys, json\n"
             "names = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'__main__'}\n"
             "print(json.dumps(sorted(n for n in names if not n.startswith('_'))))")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("MINIGRAPH_MODE", None)  # the default mode: numpy's executor
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _core_files():
    """{module name: path} of the core: every module of the package except the edges."""
    found = {}
    for dirpath, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                if name.split(".")[-1] not in EDGES and name != "minigraph":
                    found[name] = path
    return dict(sorted(found.items()))


def test_import_minigraph_loads_only_numpy():
    loaded = _third_party_after("import minigraph, minigraph.tensor as T")
    assert loaded == {"minigraph", "numpy"}, loaded


def test_using_the_core_loads_only_numpy():
    code = ("import numpy as np, minigraph as theano, minigraph.tensor as T\n"
            "x = T.dmatrix('x'); w = theano.shared(np.ones((2, 2)), 'w')\n"
            "c = T.nnet.softmax(T.dot(x, w)).sum(); g = T.grad(c, w)\n"
            "theano.function([x], [c, g], updates=[(w, w - g)])(np.ones((3, 2)))\n"
            "theano.debugprint(c, file='str'); theano.pp(c)")
    loaded = _third_party_after(code)
    assert not loaded & set(HEAVY), loaded
    assert loaded == {"minigraph", "numpy"}, loaded


def test_every_core_module_imports_only_numpy():
    mods = list(_core_files())
    assert {"minigraph.graph", "minigraph.grad", "minigraph.compile", "minigraph.ops.elemwise",
            "minigraph.tensor"} <= set(mods)
    loaded = _third_party_after("\n".join(f"import {m}" for m in mods))
    assert loaded == {"minigraph", "numpy"}, loaded


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
