"""The core loop op, ``Scan``, and the named layout of its inputs and outputs.

Reference semantics (what ``perform`` does)::

    carries = inits
    for t in range(n_steps):
        carries, ys_t, sums_t = step(*[s[t] for s in sequences], *carries, *non_sequences)
        traces[t] = carries;  ys[t] = ys_t;  sums += sums_t
    return traces, ys, sums

Every other loop (Theano's taps, ``None`` outputs, shared updates, captured
variables) is mapped onto this by the front end (``basic.py``); its gradient is
another ``Scan`` (``grad.py``); its rewrites edit it through ``ScanLayout``
(``rewrites.py``).  How a call runs -- the step specialised to the inputs'
shapes, one generated loop over all steps -- is in ``step.py``; the op owns the
specialised step programs.
"""
from dataclasses import dataclass

import numpy as np

from ..compile import ExecutionError
from ..graph import Apply, Constant, Op, TensorType, as_variable, op
from ..ops.basic import Cast
from .step import StepPrograms


class ScanError(TypeError):
    """A step function whose outputs do not fit the loop, found while building the graph."""


class ScanTapError(ScanError, ValueError):
    """Taps that cannot work (``outputs_info`` taps that are not distinct and negative): a ValueError, as
    Theano raises, and a ScanError."""


@dataclass(frozen=True)
class ScanLayout:
    """Where each kind of value sits in a scan's four lists.

    * inner inputs (the step's placeholders): ``[*sequences, *carries, *non_sequences]``
    * inner outputs (what the step returns):   ``[*new_carries, *ys, *sums]``
    * outer inputs (the node's inputs):        ``[n_steps, *sequences, *initial_carries, *non_sequences]``
    * outer outputs (the node's outputs):      ``[*carry_traces, *stacked_ys, *summed]``

    ``keep[k]`` is ``"all"`` (carry k's trace has one row per step) or ``"last"`` (one row: the
    final value, the save-memory form).  ``n_steps_given``: sequences may be longer than the loop.
    """

    n_seqs: int
    n_carry: int
    n_nonseq: int
    n_ys: int
    n_sums: int
    keep: tuple
    n_steps_given: bool = True

    def __post_init__(self):
        if len(self.keep) != self.n_carry or any(k not in ("all", "last") for k in self.keep):
            raise ScanError(f"scan layout: keep must name 'all' or 'last' for each of {self.n_carry} carries, "
                            f"got {self.keep}")

    # ---- splitting the four lists
    def split_inner_inputs(self, xs):
        """(sequences, carries, non_sequences) of the step's placeholders."""
        ns, nc = self.n_seqs, self.n_carry
        return list(xs[:ns]), list(xs[ns:ns + nc]), list(xs[ns + nc:])

    def split_inner_outputs(self, xs):
        """(new carries, ys, sums) of the step's outputs."""
        nc, ny = self.n_carry, self.n_ys
        return list(xs[:nc]), list(xs[nc:nc + ny]), list(xs[nc + ny:])

    def split_outer_inputs(self, xs):
        """(n_steps, sequences, initial carries, non_sequences) of the node's inputs."""
        seqs, inits, nonseqs = self.split_inner_inputs(xs[1:])
        return xs[0], seqs, inits, nonseqs

    split_outer_outputs = split_inner_outputs  # (traces, ys, sums): one per step output

    # ---- single positions
    def outer_seq(self, i):
        return 1 + i

    def outer_init(self, k):
        return 1 + self.n_seqs + k

    def outer_nonseq(self, i):
        return 1 + self.n_seqs + self.n_carry + i

    def y_index(self, j):
        """Position of y ``j`` among the step's (and the node's) outputs."""
        return self.n_carry + j

    def sum_index(self, j):
        """Position of summed output ``j`` among the step's (and the node's) outputs."""
        return self.n_carry + self.n_ys + j

    @property
    def stored(self):
        """Carries whose every step is stored."""
        return tuple(k for k in range(self.n_carry) if self.keep[k] == "all")

    @property
    def n_inner_inputs(self):
        return self.n_seqs + self.n_carry + self.n_nonseq


class Scan(Op):
    """The core loop op: ``inner_outputs`` computed from ``inner_inputs`` once per step.

    ``layout`` (a ``ScanLayout``) says which input and output is what.  An op's step graph is
    immutable; rewrites build a changed copy with ``with_``.  ``origin`` is the op this one was
    derived from (the forward loop of a gradient's copy, say), so rewrites can merge them.
    """

    nout = None
    foldable = False
    broadcasts = False

    def __init__(self, inner_inputs, inner_outputs, n_seqs, n_carry, n_sums=0, n_steps_given=True, keep=None,
                 name="scan", origin=None, truncate_gradient=-1):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.layout = ScanLayout(n_seqs=n_seqs, n_carry=n_carry, n_nonseq=len(self.inner_inputs) - n_seqs - n_carry,
                                 n_ys=len(self.inner_outputs) - n_carry - n_sums, n_sums=n_sums,
                                 keep=tuple(keep or ("all",) * n_carry), n_steps_given=n_steps_given)
        self.name = name
        self.origin = origin if origin is not None else self
        self.truncate_gradient = truncate_gradient
        self.steps = StepPrograms(self)  # the compiled step, generic and specialised (step.py)
        for k, (ph, out) in enumerate(zip(self.carry_inputs, self.inner_outputs[:n_carry])):
            if ph.dtype != out.dtype or ph.ndim != out.ndim:
                raise ScanError(f"{self}: carry {k} enters the step as {ph.describe()} but leaves as {out.describe()}")

    # ---- the layout's counts, named as they are read everywhere
    n_seqs = property(lambda self: self.layout.n_seqs)
    n_carry = property(lambda self: self.layout.n_carry)
    n_nonseq = property(lambda self: self.layout.n_nonseq)
    n_ys = property(lambda self: self.layout.n_ys)
    n_sums = property(lambda self: self.layout.n_sums)
    keep = property(lambda self: self.layout.keep)
    n_steps_given = property(lambda self: self.layout.n_steps_given)

    @property
    def seq_inputs(self):
        return self.layout.split_inner_inputs(self.inner_inputs)[0]

    @property
    def carry_inputs(self):
        return self.layout.split_inner_inputs(self.inner_inputs)[1]

    @property
    def nonseq_inputs(self):
        return self.layout.split_inner_inputs(self.inner_inputs)[2]

    @property
    def carries(self):
        return self.layout.split_inner_outputs(self.inner_outputs)[0]

    @property
    def ys(self):
        return self.layout.split_inner_outputs(self.inner_outputs)[1]

    @property
    def sums(self):
        return self.layout.split_inner_outputs(self.inner_outputs)[2]

    def __str__(self):
        extra = f", sums={self.n_sums}" if self.n_sums else ""
        return f"scan{{{self.name}, carries={self.n_carry}, ys={self.n_ys}{extra}}}"

    def __getstate__(self):  # the compiled step programs are rebuilt after unpickling, not pickled
        return {k: v for k, v in self.__dict__.items() if k not in ("steps", "_pattern")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.steps = StepPrograms(self)

    def inner_graph(self):
        """The step's outputs (debugprint and the graphviz renderer show them under the scan)."""
        return self.inner_outputs

    def make_node(self, n_steps, *outer):
        n_steps = as_variable(n_steps)
        if n_steps.ndim != 0 or np.dtype(n_steps.dtype).kind not in "iu":
            raise ScanError(f"scan: n_steps must be an integer scalar, got {n_steps.describe()}")
        if n_steps.dtype != "int64":
            n_steps = Cast("int64")(n_steps)
        outer = [as_variable(v) for v in outer]
        if len(outer) != len(self.inner_inputs):
            raise ScanError(f"{self}: expected {len(self.inner_inputs)} outer inputs, got {len(outer)}")
        for ph, v in zip(self.inner_inputs[self.n_seqs:], outer[self.n_seqs:]):
            if ph.dtype != v.dtype or ph.ndim != v.ndim:
                raise ScanError(f"{self}: outer input {v.describe()} does not fit inner {ph.describe()}")
        n = int(n_steps.data) if isinstance(n_steps, Constant) else None
        types = [TensorType(ph.dtype, (1 if keep == "last" else n,) + ph.type.shape)
                 for ph, keep in zip(self.carry_inputs, self.keep)]
        types += [TensorType(y.dtype, (n,) + y.type.shape) for y in self.ys]
        types += [y.type for y in self.sums]
        return Apply(self, [n_steps] + outer, types)

    def with_(self, **changes):
        """A copy of this op with some fields changed (rewrites use it)."""
        fields = dict(inner_inputs=self.inner_inputs, inner_outputs=self.inner_outputs, n_seqs=self.n_seqs,
                      n_carry=self.n_carry, n_sums=self.n_sums, n_steps_given=self.n_steps_given, keep=self.keep,
                      name=self.name, origin=self.origin, truncate_gradient=self.truncate_gradient)
        fields.update(changes)
        return Scan(**fields)

    def perform(self, n, *outer):
        return self.steps.run(int(n), outer)

    def lower_jax(self, node):
        from .jax_scan import lower_scan
        return lower_scan(self, node)

    def generated_sources(self):
        """Sources of the step programs and loops compiled so far (see ``Function.sources``)."""
        return self.steps.sources()

    def connection_pattern(self, node):
        """[input][output] -> whether the output depends on the input through the loop (Theano's
        connection pattern): an initial state reaches an output only through the steps that read it."""
        nin, nc = len(self.inner_inputs), self.n_carry
        if getattr(self, "_pattern", None) is None:
            from ..graph import ancestors
            inner = self.inner_inputs
            pos = {id(v): i for i, v in enumerate(inner)}
            dep = np.zeros((nin, len(self.inner_outputs)), dtype=bool)
            for o, out in enumerate(self.inner_outputs):
                for v in ancestors([out], stop_at=inner):
                    if id(v) in pos:
                        dep[pos[id(v)], o] = True
            carry_rows = slice(self.n_seqs, self.n_seqs + nc)
            step = dep[carry_rows, :nc].astype(np.int64)  # carry l read by the step that makes carry k
            reach = np.eye(nc, dtype=np.int64)
            for _ in range(nc):  # reflexive-transitive closure over the carries
                reach = np.minimum(reach + reach @ step, 1)
            through = reach @ dep[carry_rows].astype(np.int64) > 0  # carry l at some step -> output
            outer = np.zeros((1 + nin, len(self.inner_outputs)), dtype=bool)
            outer[0] = True  # n_steps
            for i in range(nin):
                direct = dep[i]
                feeds = dep[i, :nc].astype(np.int64) @ through.astype(np.int64) > 0 if nc else direct & False
                outer[1 + i] = direct | feeds
            for k in range(nc):  # an initial state enters as the carry of step 0
                outer[1 + self.n_seqs + k] = through[k]
            object.__setattr__(self, "_pattern", outer.tolist())
        return self._pattern

    def pullback(self, inputs, outputs, cotangents):
        from .grad import scan_pullback
        return scan_pullback(self, inputs, outputs, cotangents)


@op
class CheckLength(Op):
    """Identity on a sequence that checks its length against the loop's n_steps at run time.

    Rewrites that move sequence work out of a loop keep the loop's length rule with it:
    exactly n steps when n_steps was not given, at least n when it was.
    """

    exact: bool
    what: str = "sequence"

    def make_node(self, x, n):
        return Apply(self, [as_variable(x), as_variable(n)], [as_variable(x).type])

    def perform(self, x, n):
        length = np.shape(x)[0]
        if length < n or (self.exact and length != n):
            raise ExecutionError(f"scan: {self.what} has {length} steps but the loop runs {int(n)}"
                                 + ("; all sequences must have the same length" if self.exact else ""))
        return x

    def lower_numba(self, node):
        from ..lowering import Lowering
        return Lowering("view", f"rt.check_length({{0}}, {{1}}, {self.exact})")

    def lower_jax(self, node):
        from ..ops.basic import static_values
        return lambda x, n: self.perform(x, int(static_values([n], self)[0]))  # lengths are static under JAX

    def pullback(self, inputs, outputs, gz):
        return [gz[0], None]

    def __str__(self):
        return "check_length"
