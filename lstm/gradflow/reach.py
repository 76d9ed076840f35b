"""``lstm gradflow --arch``: how far the error signal reaches in one of Pascanu et al.'s deep
constructions, next to the shallow network with the same cell.

Why a measure of its own: the unrolled diagram follows the states of ONE cell, and a deep
construction has several (layers, transition MLPs), but every construction reads the input, so
``||dL/dx_t||`` for a loss at the last step (``lstm.deep.input_gradient_norms``) compares them all.
"""
from __future__ import annotations

import json

import numpy as np

from ..data import DataError
from ..deep import arch_label, input_gradient_norms
from ..files import Output, check_outputs
from ..layers import SequenceModel

__all__ = ["deep_reach_report"]


def _refuse_single_cell_options(args):
    for flag, given in (("--checkpoint", args.checkpoint), ("--clip", args.clip), ("--ablation", args.ablation),
                        ("--weight-scale", args.weight_scale != 1.0)):
        if given:
            raise DataError(f"{flag} applies to the single-cell diagram; leave out --arch for it")
    if any(k.endswith("-cut") for k in (args.cell or ())):
        raise DataError("the '-cut' cells need the shallow network (leave out --arch)")
    if args.depth < 2:
        raise DataError(f"--arch {args.arch} needs --depth 2 or more (depth 1 is the shallow network)")


def deep_reach_report(args, out, default_cells):
    """Print (or --json) ||dL/dx_t|| of --arch and of the shallow net for each cell; --plot draws it."""
    _refuse_single_cell_options(args)
    if args.plot:  # before the work: a plot path that is an input, a device or a file we did not write
        check_outputs([Output(args.plot, "plot")], ())
    result = {}
    for k in list(dict.fromkeys(args.cell or default_cells)):
        for arch in ("shallow", args.arch):
            m = SequenceModel(k, n_in=args.inputs, n_hidden=args.hidden, forget_bias=args.forget_bias,
                              init=args.init, seed=args.seed, dtype="float64", arch=arch, depth=args.depth,
                              widths=args.width)
            result.setdefault(k, {})[arch] = input_gradient_norms(m, args.steps, seed=args.seed)
    if args.json:
        out.write(json.dumps({k: {a: [float(v) for v in n] for a, n in r.items()} for k, r in result.items()}) + "\n")
        return 0
    label = arch_label(args.arch, args.depth)
    out.write(f"||dL/dx_t|| for a loss at step T = {args.steps}, t = 1 (lag {args.steps - 1}) and t = T; "
              f"seed {args.seed}, {args.hidden} hidden, forget-gate bias {args.forget_bias:g}\n")
    for k, r in result.items():
        for arch, n in r.items():
            name = "shallow" if arch == "shallow" else label
            out.write(f"  {k:<9} {name:<31} t=1: {n[0]:.3e}   t=T: {n[-1]:.3e}   ratio {n[0] / n[-1]:.3e}\n")
    out.write("  (the unrolled state diagram, --out, is drawn for single cells: leave out --arch for it)\n")
    if args.plot:
        out.write(f"wrote {_plot(result, args, label)}\n")
    return 0


def _plot(result, args, label):
    from ..files import save_figure_atomic
    from ..stock import _new_figure

    fig = _new_figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    lag = np.arange(args.steps)[::-1]
    for i, (k, r) in enumerate(result.items()):
        ax.semilogy(lag, r["shallow"], color=f"C{i}", ls="--", label=f"{k}, shallow")
        ax.semilogy(lag, r[args.arch], color=f"C{i}", label=f"{k}, {label}")
    ax.set_xlabel("lag T - t (steps before the loss)")
    ax.set_ylabel("||dL/dx_t||")
    ax.set_title(f"error signal reaching each input: {label} vs shallow")
    ax.legend(fontsize=8)
    return save_figure_atomic(fig, args.plot)
