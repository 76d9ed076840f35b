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
