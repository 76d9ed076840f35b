"""Why the LSTM's cell state keeps gradients alive: measure and draw the gradient flow through time.

A loss at the last step of a sequence is differentiated, by minigraph's own backward scan, with
respect to every state of every step; the per-step norms show how much of the error signal
survives the trip back.  One module per job:

* ``measure``   -- the norms, the local Jacobians along every backward edge, the gate activations
                   (``gradient_norms``, ``gradient_flow``), for every kind of ``lstm.cells.CELLS``;
* ``diagram``   -- the unrolled diagram, drawn with Graphviz (``unrolled_dot``, ``render_unrolled``);
* ``opgraph``   -- the op-level view: minigraph's real gradient graph of a 3-step LSTM
                   (``op_graph_dot``, ``render_op_graph``);
* ``plots``     -- matplotlib curves (``plot_norms``, ``plot_ablation``, ``plot_exploding``);
* ``exploding`` -- exploding gradients and norm clipping in training (``clipping_run``);
* ``trained``   -- a trained network from a checkpoint, and the same one before training;
* ``cli``       -- the ``lstm gradflow`` command (also ``python -m lstm.gradflow``).

See docs/why_lstm.md.
"""
from .cli import add_arguments, main, run_command
from .diagram import render_unrolled, unrolled_dot
from .exploding import clipping_run
from .measure import (DEFAULT_N_HIDDEN, DEFAULT_N_IN, EDGE_LABELS, Kind, gradient_flow, gradient_norms, make_cell,
                      make_inputs, mean_gains, parse_kind)
from .opgraph import op_graph_dot, render_op_graph
from .plots import plot_ablation, plot_exploding, plot_flows, plot_norms
from .trained import Trained, read_trained

__all__ = ["EDGE_LABELS", "DEFAULT_N_IN", "DEFAULT_N_HIDDEN", "Kind", "parse_kind", "make_cell", "make_inputs",
           "gradient_norms", "gradient_flow", "mean_gains", "unrolled_dot", "render_unrolled", "op_graph_dot", "render_op_graph",
           "plot_norms", "plot_ablation", "plot_exploding", "plot_flows", "clipping_run", "Trained", "read_trained",
           "add_arguments", "run_command", "main"]
