"""Golden strings for debugprint and pp."""
import io
import textwrap

import numpy as np

import minigraph as theano
import minigraph.tensor as T


def _dedent(s):
    return textwrap.dedent(s).strip("\n")


def test_debugprint_tree_ids_and_types():
    x, y = T.dvector("x"), T.dvector("y")
    out = (x * y + 2).sum()
    assert theano.debugprint(out, file="str") == _dedent("""
        sum{axis=[0]} [id A] float64()
         |add [id B] float64(?)
         | |mul [id C] float64(?)
         | | |x [id D] float64(?)
         | | |y [id E] float64(?)
         | |2. [id F] float64()
    """)


def test_debugprint_shared_subexpressions_list_and_options():
    x, y = T.dvector("x"), T.dvector("y")
    z = x * y
    text = theano.debugprint([z.sum(), T.exp(z)], file="str", print_type=False, ids="int")
    assert text == _dedent("""
        sum{axis=[0]} [id 0]
         |mul [id 1]
         | |x [id 2]
         | |y [id 3]
        exp [id 4]
         |mul [id 1] ...
    """)
    assert theano.debugprint((z + 1).sum(), file="str", depth=2).splitlines() == [
        "sum{axis=[0]} [id A] float64()",
        " |add [id B] float64(?)",
        " | |mul [id C] float64(?)",
        " | |1. [id D] float64()",
    ]


def test_debugprint_names_shared_variables_and_static_shapes():
    w = theano.shared(np.zeros((3, 2)), "w")
    x = T.dmatrix("x")
    h = T.dot(x, w)
    h.name = "h"
    assert theano.debugprint(h, file="str") == _dedent("""
        dot [id A] 'h' float64(?,2)
         |x [id B] float64(?,?)
         |shared w [id C] float64(3,2)
    """)


def test_debugprint_writes_to_a_file_and_returns_the_text(capsys):
    x = T.dscalar("x")
    buf = io.StringIO()
    text = theano.debugprint(-x, file=buf)
    assert buf.getvalue() == text + "\n" == "neg [id A] float64()\n |x [id B] float64()\n"
    theano.debugprint(-x)
    assert capsys.readouterr().out == text + "\n"


def test_debugprint_of_a_compiled_function_shows_the_rewritten_graph_and_updates():
    x = T.dvector("x")
    w = theano.shared(np.zeros(3), "w")
    f = theano.function([x], (x * 1 + w).sum(), updates=[(w, w + x)])
    assert f.debugprint(file="str") == theano.debugprint(f, file="str") == _dedent("""
        sum{axis=[0]} [id A] float64()
         |add [id B] float64(3)
         | |x [id C] float64(?)
         | |shared w [id D] float64(3)
        # update of w
        add [id E] float64(3)
         |shared w [id D] float64(3)
         |x [id C] float64(?)
    """)


def test_pp():
    x, y = T.dvector("x"), T.dvector("y")
    assert theano.pp((x * y + 2).sum()) == "sum{axis=[0]}(((x * y) + 2.))"
    assert theano.pp(-x + T.exp(y)[0]) == "(-x + subtensor[0](exp(y)))"
    assert theano.pp(T.switch(x > 0, x, -x) ** 2 / y[1:]) == \
        "((switch((x > 0.), x, -x) ** 2.) / subtensor[1:](y))"
    assert theano.pp(T.dot(x, T.dmatrix("W")) // 3 % 2) == "((dot(x, W) // 3.) % 2.)"
    assert theano.pp(x) == "x"
    assert theano.pp(T.dvector()) == "<float64(?)>"


# ---- issue 10: pp prints shared subexpressions once and caps its output
def test_pp_names_shared_subexpressions_once():
    x, W, b = T.dvector("x"), T.dmatrix("W"), T.dvector("b")
    h = T.tanh(T.dot(W, x))
    assert theano.pp(h * h + b) == "(([id A] * [id A]) + b)\nwhere\n  [id A] = tanh(dot(W, x))"
    assert theano.pp(T.dot(W, x) + b) == "(dot(W, x) + b)"


def test_pp_of_a_doubling_graph_grows_with_the_graph_not_its_paths():
    y = T.dvector("x")
    for _ in range(28):  # 2**28 paths: the inline text would be gigabytes
        y = y + y
    text = theano.pp(y)
    assert len(text) < 2_000 and text.count("\n") == 28


def test_pp_output_is_capped():
    y = T.dvector("x")
    for _ in range(3000):
        y = y * 1.5 + 1
    text = theano.pp(y, max_chars=5_000)
    assert len(text) < 5_000 + 200
    assert text.endswith("more lines; pp(var, max_chars=None) prints all)")
    full = theano.pp(y, max_chars=None)
    assert "more lines" not in full and len(full) > 10 * len(text)
