"""The JAX backend: a compiled function's schedule lowered to one ``jax.jit`` program (XLA).

minigraph still builds the graph, differentiates it and rewrites it; this module only walks the
scheduled nodes of the same ``Program`` the numpy executor runs, calling each op's ``lower_jax``,
and hands the traced whole to ``jax.jit``.  Why JAX: it is an existing compiler that reaches GPUs
(Theano had its own GPU back end; PyTensor reaches GPUs by lowering to JAX, as this does).

* Shapes: JAX traces with static shapes, so shape arithmetic (``x.shape[0] - 1``) is computed with
  numpy while tracing and becomes constants.  A shape or slice bound that depends on an integer
  *input* makes the function retrace once per distinct value of its integer inputs (they become
  static arguments); one that depends on computed float data is an error naming the op.
* dtypes: every minigraph type is exact, so tracing and every call run inside
  ``jax.enable_x64(True)`` (float64 stays float64, int64 stays int64; float32 graphs stay float32).
  The user's global JAX setting is untouched.
* Shared variables live on the device between calls: a function reads ``container.device`` (copied
  there once), and the new values of its updates are donated buffers that replace it; the host copy
  is made only when ``get_value`` asks.
* An op without a lowering runs its numpy ``perform`` on the host through ``jax.pure_callback``.
"""
import numpy as np

import jax
import jax.numpy as jnp

from ..compile import ExecutionError, Function, _check_value, _returns_tuple, describe_failure
from ..graph import Constant
from ..ops.basic import NotStaticError

try:  # jax >= 0.6 names it at the top level; older releases under jax.experimental
    _x64 = jax.enable_x64
except AttributeError:  # pragma: no cover - depends on the installed jax
    from jax.experimental import enable_x64 as _x64

# jax's errors for "this value is not known when tracing": the function then retraces with static ints
_NOT_STATIC = (NotStaticError, jax.errors.ConcretizationTypeError, jax.errors.TracerIntegerConversionError,
               jax.errors.TracerArrayConversionError, jax.errors.TracerBoolConversionError)


def concrete(value):
    """A value known while tracing (numpy), as opposed to a traced jax value."""
    return isinstance(value, (np.ndarray, np.generic, int, float, bool))


def _small(node):
    """Outputs that numpy computes while tracing when their inputs are known: scalars and integer
    vectors and matrices (shapes, their arithmetic, a loop's stored shapes), never float arrays that
    would become big constants in the program."""
    return all(o.ndim == 0 or (o.ndim <= 2 and np.dtype(o.dtype).kind in "biu") for o in node.outputs)


def lower_program(program, check=False):
    """``program``'s schedule as a function of jax values returning the tuple of its outputs.

    Nodes whose inputs are all known while tracing and whose outputs are small run their numpy
    thunk (shape arithmetic folds to constants); every other node runs its lowering.  A node that
    fails raises ExecutionError naming it, its input shapes and where it was built.  ``check``:
    every value is validated as ``function(check=True)`` does (for an eager, unjitted run).
    """
    lowered = {}

    def apply(node, ins):
        if node.op.foldable and _small(node) and all(concrete(x) for x in ins):
            with np.errstate(all="ignore"):
                return node.op.make_thunk(node)(*ins)
        fn = lowered.get(id(node))
        if fn is None:
            fn = lowered[id(node)] = node.op.lower_jax(node) or _on_host(node)
        return fn(*ins)

    def run(*args):
        values = {id(v): a for v, a in zip(program.inputs + program.shared, args)}
        for node in program.nodes:
            ins = [v.data if isinstance(v, Constant) else values[id(v)] for v in node.inputs]
            try:
                out = apply(node, ins)
            except _NOT_STATIC:
                raise
            except ExecutionError as exc:  # a loop's step failed: say which loop
                raise ExecutionError(f"{program.name}: {node.op} failed: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - re-raised with the node that failed
                raise ExecutionError(f"{program.name}: " + describe_failure(node, ins, exc)) from exc
            for o, val in zip(node.outputs, out if _returns_tuple(node) else [out]):
                if check:
                    _check_value(node, o, val, ins)
                values[id(o)] = val
        return tuple(v.data if isinstance(v, Constant) else values[id(v)] for v in program.outputs)
    return run


def _on_host(node):
    """An op with no JAX lowering: its numpy thunk, called on the host from the compiled program.  The
    result shapes are the static types', else those of a dry run on zeros of the traced input shapes."""
    thunk = node.op.make_thunk(node)
    dtypes = [np.dtype(o.dtype) for o in node.outputs]
    many = _returns_tuple(node)

    def host(*args):
        out = thunk(*args)
        return tuple(np.asarray(r, d) for r, d in zip(out if many else [out], dtypes))

    def run(*ins):
        shapes = [o.type.shape for o in node.outputs]
        if any(None in s for s in shapes):  # values known while tracing (sizes) as they are; the others a
            shapes = [np.shape(r) for r in host(*[x if concrete(x) else _stand_in(x) for x in ins])]
        specs = [jax.ShapeDtypeStruct(s, d) for s, d in zip(shapes, dtypes)]
        out = jax.pure_callback(host, tuple(specs), *ins)
        return out if many else out[0]
    return run


def _stand_in(x):
    """A host value of a traced input's shape and dtype for a dry run: floats as uniform rows (valid
    probabilities), integers as zeros."""
    dtype, shape = np.dtype(x.dtype), tuple(np.shape(x))
    if dtype.kind == "f" and shape and shape[-1]:
        return np.full(shape, 1.0 / shape[-1], dtype)
    return np.zeros(shape, dtype)


class JaxFunction(Function):
    """``function(..., mode="JAX")``: the same compiled graph, run as one ``jax.jit`` program.

    Outputs come back as numpy arrays (host copies); shared variables stay on the device.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lowered = lower_program(self.program)
        updated = {id(s) for s, _ in self.updates}
        n_in = len(self.inputs)
        self._donate = tuple(n_in + i for i, s in enumerate(self.shared) if id(s) in updated)
        self._int_inputs = tuple(i for i, v in enumerate(self.inputs) if np.dtype(v.dtype).kind in "biu")
        self._jitted = jax.jit(self._lowered, donate_argnums=self._donate)
        self._static = False  # True once a shape had to depend on an integer input's value
        self._filters = [_device_filter(f, v.type) for f, v in zip(self._filters, self.inputs)]

    def _run(self, vals):
        """Outputs (host copies) and updates (left on the device) for validated inputs ``vals``."""
        with _x64(True):
            shared = [_on_device(c) for c in self._containers]
            if self.check:
                results = lower_program(self.program, check=True)(*vals, *shared)
            else:
                results = self._call(vals, shared)
        n = self._n_out
        for c, v in zip(self._update_containers, results[n:]):
            c.set_device(v)
        return [np.array(r) for r in results[:n]] + list(results[n:])  # writable outputs, as numpy mode's

    def jaxpr(self, *args):
        """The program JAX runs for these inputs, as text naming each primitive (``jax.make_jaxpr``)."""
        vals = [f(a) for f, a in zip(self._filters, args)]
        with _x64(True):
            shared = [_on_device(c) for c in self._containers]
            return str(jax.make_jaxpr(self._lowered)(*vals, *shared))

    def _call(self, vals, shared):
        try:
            return self._call_jitted(vals, shared)
        except jax.errors.JaxRuntimeError as exc:  # an op run on the host raised: its last line says what
            raise ExecutionError(f"{self.name}: {str(exc).strip().splitlines()[-1]}") from exc

    def _call_jitted(self, vals, shared):
        if not self._static:
            try:
                return self._jitted(*vals, *shared)
            except _NOT_STATIC as exc:
                if not self._int_inputs:
                    raise ExecutionError(f"{self.name}: {exc}") from None
                self._go_static()
        for i in self._int_inputs:
            vals[i] = _Static(vals[i])
        try:
            return self._jitted(*vals, *shared)
        except _NOT_STATIC as exc:
            raise ExecutionError(f"{self.name}: {exc}") from None

    def _go_static(self):
        """Retrace with the integer inputs' values known (a program per distinct value)."""
        run = self._lowered

        def unwrap(*args):
            return run(*[a.value if isinstance(a, _Static) else a for a in args])
        self._static = True
        self._jitted = jax.jit(unwrap, static_argnums=self._int_inputs, donate_argnums=self._donate)


class _Static:
    """An integer input passed to jit as a static (hashable) argument."""

    __slots__ = ("value", "_key")

    def __init__(self, value):
        self.value = value
        self._key = (value.dtype.str, value.shape, value.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _Static) and other._key == self._key


def _device_filter(host_filter, t):
    """Inputs may also be jax arrays already on the device (data kept there between calls): those of the
    input's exact dtype and shape pass as they are; anything else goes through the numpy rules."""
    dtype = np.dtype(t.dtype)

    def check(value):
        if isinstance(value, jax.Array) and value.dtype == dtype and t.accepts_shape(value.shape):
            return value
        return host_filter(value)
    return check


def _on_device(container):
    """The container's value on the device, copied there once (and kept while no one assigns it)."""
    if container.device is None:
        container.device = jax.device_put(np.array(container.value))  # a copy: the device buffer may be donated
    return container.device
