"""The ``lstm gradflow`` command (also ``python -m lstm.gradflow``): options, checks, and the report.

Every path and value is checked before any work starts, so a wrong suffix, a missing folder or
an unreadable checkpoint costs one line and no waiting.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

from ..cells import CELLS
from ..data import DataError
from ..files import PLOT_FORMATS, Output, check_outputs, finite_float, image_path, positive_float, positive_int, seed_int
from .diagram import DIAGRAM_FORMATS, has_diagram_mark, render_unrolled
from .measure import DEFAULT_N_HIDDEN, DEFAULT_N_IN, gradient_flow, mean_gains, parse_kind

__all__ = ["add_arguments", "run_command", "main"]

DEFAULT_CELLS = ("rnn", "lstm")


def _cell_list(text):
    items = [s.strip() for s in text.split(",") if s.strip()]
    if items == ["all"]:
        return list(CELLS)
    if not items:
        raise argparse.ArgumentTypeError("give at least one cell")
    for s in items:
        try:
            parse_kind(s)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return items


def _columns(text):
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 (the first and the last step), got {value}")
    return value


def add_arguments(parser):
    """The options of ``lstm gradflow`` (also ``python -m lstm.gradflow``)."""
    kinds = " | ".join(CELLS)
    parser.add_argument("--cell", type=_cell_list, default=None, metavar="KIND",
                        help=f"{kinds} | all, or a comma-separated list; '-cut' after an LSTM kind cuts its "
                             "cell path (default: rnn,lstm)")
    parser.add_argument("--steps", type=positive_int, default=50, help="sequence length T (default 50)")
    parser.add_argument("--forget-bias", type=finite_float, default=1.0,
                        help="LSTM forget-gate bias, in the diagram and --plot (default 1.0)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the weights and the input (default 0)")
    parser.add_argument("--seeds", type=positive_int, default=5, help="initialisations averaged in --plot (default 5)")
    parser.add_argument("--hidden", type=positive_int, default=DEFAULT_N_HIDDEN, help="hidden units (default 20)")
    parser.add_argument("--inputs", type=positive_int, default=DEFAULT_N_IN, help="input size (default 4)")
    parser.add_argument("--init", choices=("glorot", "orthogonal", "tutorial"), default="glorot",
                        help="weight initialisation (default glorot)")
    parser.add_argument("--weight-scale", type=positive_float, default=1.0, metavar="S",
                        help="multiply the recurrent weights W_h by S (default 1; about 3 makes the RNN's "
                             "gradient explode)")
    parser.add_argument("--checkpoint", metavar="FILE",
                        help="draw the one-layer network in FILE (from lstm task ... --checkpoint or lstm stock "
                             "--checkpoint) before and after training, one panel above the other, on its task's "
                             "input; its own cell kind and sizes replace --cell, --hidden, --inputs and --init")
    parser.add_argument("--out", default="flow.svg", type=image_path(DIAGRAM_FORMATS, "diagram"),
                        help="the unrolled diagram; .svg, .png, .pdf ... by suffix (default flow.svg)")
    parser.add_argument("--columns", type=_columns, default=12,
                        help="most time steps drawn in the diagram: with more steps, the first and last "
                             "COLUMNS/2 around an ellipsis (default 12)")
    parser.add_argument("--json", action="store_true",
                        help="print the per-step norms as one JSON object instead of drawing the diagram")
    parser.add_argument("--plot", metavar="FILE", type=image_path(PLOT_FORMATS, "plot"),
                        help="also plot the norms against the lag (.png, .svg, .pdf, .ps, .eps)")
    parser.add_argument("--ablation", action="store_true",
                        help="add the LSTM with its cell path cut (disconnected_grad on c_t-1)")
    parser.add_argument("--clip", type=positive_float, metavar="THETA",
                        help="train an RNN with W_h x --weight-scale on the adding task (T = --steps) with and "
                             "without gradient-norm clipping at THETA (Pascanu et al. 2013) and report both; "
                             "--plot then draws that experiment")
    return parser


def _check_paths(args):
    """Fail before the work: the outputs (folders, not inputs, not each other, no file we did not
    write), the checkpoint's presence, options that do not go together."""
    if args.checkpoint and args.cell is not None:
        raise DataError("--checkpoint draws the checkpoint's own cell; leave out --cell")
    if args.checkpoint and args.weight_scale != 1.0:
        raise DataError("--weight-scale scales freshly drawn weights; it does not apply to --checkpoint")
    outputs = [] if args.json else [Output(args.out, "diagram", has_diagram_mark)]
    if args.plot:
        outputs.append(Output(args.plot, "plot"))
    check_outputs(outputs, inputs=[args.checkpoint] if args.checkpoint else ())


def _cells(args):
    cells = list(dict.fromkeys(args.cell or DEFAULT_CELLS))
    if args.ablation:
        for k in list(cells):
            kind = parse_kind(k)
            if kind.cell.has_cell_state and not kind.cut and k + "-cut" not in cells:
                cells.append(k + "-cut")
        if not any(k.endswith("-cut") for k in cells):
            cells.append("lstm-cut")
    return cells


def _panels(args):
    """The flows to draw: one per cell kind, or the checkpoint's network before and after training."""
    kw = dict(steps=args.steps, forget_bias=args.forget_bias, seed=args.seed, n_in=args.inputs,
              n_hidden=args.hidden, init=args.init, weight_scale=args.weight_scale)
    if not args.checkpoint:
        return [gradient_flow(k, **kw) for k in _cells(args)]
    from .trained import read_trained
    trained = read_trained(args.checkpoint)
    x = trained.inputs(args.steps, args.seed)
    flows = []
    for when, cell in (("before", trained.before), ("after", trained.after)):
        fl = gradient_flow(trained.kind, args.steps, seed=args.seed, inputs=x, cell=cell, readout=trained.readout)
        title = f"{CELLS[trained.kind].label} {when} training" + (f" ({trained.what})" if when == "after" else "")
        fl.update(panel=f"{trained.kind}_{when}", title=title, name=f"{trained.kind}-{when}")
        flows.append(fl)
    return flows


def _summary(flows, args, out):
    for fl in flows:
        name = fl.get("name", fl["kind"])
        extra = f"   ||dL/dc_1|| = {fl['norms']['c'][0]:.3e}" if "c" in fl["norms"] else ""
        gates = "".join(f"   mean {g} {np.mean(v):.2f}" for g, v in fl["gates"].items() if g in ("f", "z"))
        out.write(f"  {name:<16} ||dL/dh_1|| = {fl['norms']['h'][0]:.3e}{extra}{gates}\n")
        if args.checkpoint:  # what training changed: the per-step gain of the carousel and of the loop via h
            gains = mean_gains(fl)
            path = next(v for k, v in gains.items() if k.startswith("cc"))
            out.write(f"  {'':<16} per-step gain: cell path {path:.2f}, c_t -> h_t-1 {gains['ch']:.2f}, "
                      f"h_t -> c_t {gains['hc']:.2f}\n")
    by_kind = {fl.get("name", fl["kind"]): fl for fl in flows}
    if "rnn" in by_kind and "lstm" in by_kind:
        ratio = by_kind["lstm"]["norms"]["h"][0] / max(by_kind["rnn"]["norms"]["h"][0], np.finfo(float).tiny)
        out.write(f"  ||dL/dh_1|| LSTM (forget bias {args.forget_bias:g}) / RNN, same input: {ratio:.3g} "
                  f"(10^{math.log10(ratio):.1f})\n")


def _clipping(args, out):
    from .exploding import clipping_run
    runs = [clipping_run(clip, args.weight_scale, args.steps, n_hidden=args.hidden, seed=args.seed)
            for clip in (None, args.clip)]
    for run in runs:
        how = "without clipping" if run["clip"] is None else f"clipped at {run['clip']:g}"
        end = (f"non-finite after {run['diverged_at']} updates" if run["diverged_at"] else
               f"final loss {run['loss'][-1]:.4g}")
        out.write(f"  RNN, W_h x {args.weight_scale:g}, adding T={args.steps}, {how}: largest gradient norm "
                  f"{np.nanmax(run['grad_norm']):.3g}, {end}\n")
    return runs


def _plot(args, flows, runs, out):
    from .plots import plot_exploding, plot_flows, plot_norms
    common = dict(steps=args.steps, seeds=args.seeds, path=args.plot, seed=args.seed, n_in=args.inputs,
                  n_hidden=args.hidden, init=args.init)
    if args.checkpoint:
        plot_flows(flows, args.plot)
    elif runs is not None:
        plot_exploding(scales=tuple(sorted({1.0, args.weight_scale})), runs=runs, **common)
    else:
        kinds = [k for k in (args.cell or DEFAULT_CELLS) if not k.endswith("-cut")] or ["lstm"]
        plot_norms(kinds, forget_biases=(args.forget_bias,), ablation=args.ablation, **common)
    out.write(f"wrote {args.plot}\n")


def run_command(args, out=None):
    """Carry out parsed ``lstm gradflow`` arguments; returns the exit status."""
    out = out or sys.stdout
    _check_paths(args)
    flows = _panels(args)
    if args.json:
        result = {fl.get("name", fl["kind"]): {s: [float(v) for v in fl["norms"][s]] for s in ("h", "c")
                                               if s in fl["norms"]} for fl in flows}
        out.write(json.dumps(result) + "\n")
    else:
        render_unrolled(path=args.out, max_columns=args.columns, flows=flows)
        names = ", ".join(fl.get("name", fl["kind"]) for fl in flows)
        setting = f"checkpoint {args.checkpoint}" if args.checkpoint else f"forget-gate bias {args.forget_bias:g}"
        out.write(f"wrote {args.out}: gradient flow of a loss at step T = {args.steps} "
                  f"({names}; {setting}, seed {args.seed})\n")
        _summary(flows, args, out)
    runs = _clipping(args, out) if args.clip else None
    if args.plot:
        _plot(args, flows, runs, out)
    return 0


def main(argv=None):
    """``lstm gradflow ...``: draw / print the gradient flow of RNN and LSTM cells."""
    from ..checkpoint import CheckpointError
    parser = add_arguments(argparse.ArgumentParser(
        prog="lstm gradflow",
        description="Why the LSTM's cell state keeps gradients alive: per-step gradient norms of a loss at the "
                    "last step, computed by minigraph's backward scan, drawn as an unrolled diagram."))
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except (OSError, RuntimeError, ValueError, CheckpointError, DataError) as exc:
        print(f"lstm gradflow: error: {exc}", file=sys.stderr)
        return 1
