"""The symbolic graph: types, variables, applies and ops.

An ``Apply`` is the statement ``outputs = op(*inputs)``; a ``Variable`` is a
typed value that is either an input (no owner), a ``Constant``, a
``SharedVariable`` or the output of an ``Apply``.  Graphs are immutable once
built: rewrites and ``grad`` build new variables and never edit old ones.
"""
import functools
import gc
import itertools
import os
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .config import config

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


_DTYPE_NAMES = {}  # anything np.dtype() accepts -> canonical name ('float32', ...)


def _from_broadcastable(pattern):
    """Theano's broadcastable pattern (True: length 1, False: any length) as a static shape."""
    pattern = tuple(pattern)
    if not all(isinstance(b, (bool, np.bool_)) for b in pattern):
        raise TypeError(f"a broadcastable pattern holds only booleans, got {pattern}")
    return tuple(1 if b else None for b in pattern)


class TensorType:
    """A dtype plus a static shape whose entries are ints or ``None`` (known only at run time).

    Theano's broadcastable pattern is accepted too, as ``broadcastable=`` or as a second argument made
    only of booleans: ``TensorType('float64', (False, True))`` is the static shape ``(None, 1)``.
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape=None, name=None, broadcastable=None):
        if dtype == "floatX":  # Theano's spelling of config.floatX
            dtype = config.floatX
        canon = _DTYPE_NAMES.get(dtype)  # ``name`` (Theano's type name) is accepted and unused
        if canon is None:  # np.dtype(...).name costs microseconds; graphs make one type per variable
            canon = _DTYPE_NAMES[dtype] = np.dtype(dtype).name
        self.dtype = canon
        if broadcastable is not None:
            if shape is not None:
                raise TypeError("TensorType: give a static shape or a broadcastable pattern, not both")
            shape = _from_broadcastable(broadcastable)
        elif shape is None:
            raise TypeError("TensorType needs a static shape (or Theano's broadcastable pattern)")
        shape = tuple(shape)
        for s in shape:
            if s is not None and (type(s) is not int or s < 0):  # rare: booleans, numpy ints, or an error
                if any(isinstance(b, (bool, np.bool_)) for b in shape):  # never read True/False as 1/0
                    shape = _from_broadcastable(shape)
                    break
                shape = tuple(None if s is None else int(s) for s in shape)
                if any(s is not None and s < 0 for s in shape):
                    raise ValueError(f"static shape entries must be >= 0 or None, got {shape}")
                break
        self.shape = shape

    ndim = property(lambda self: len(self.shape))
    broadcastable = property(lambda self: tuple(s == 1 for s in self.shape))

    def __eq__(self, other):
        return type(other) is TensorType and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self):
        return hash((self.dtype, self.shape))

    def __call__(self, name=None):
        return Variable(self, name=name)

    def __repr__(self):
        return f"TensorType({self.dtype}, shape={self.shape})"

    def __str__(self):
        dims = ",".join("?" if s is None else str(s) for s in self.shape)
        return f"{self.dtype}({dims})"

    @property
    def is_float(self):
        return np.dtype(self.dtype).kind in "fc"

    def accepts_shape(self, shape):
        return len(shape) == self.ndim and all(s is None or s == d for s, d in zip(self.shape, shape))

    def filter(self, value, allow_downcast=None, what="value"):
        """Return ``value`` as an ndarray of this type, or raise TypeError saying why not."""
        if isinstance(value, Variable):
            raise TypeError(f"{what}: expected numeric data of type {self}, got the symbolic variable {value}")
        if isinstance(value, np.ndarray) and value.dtype.name == self.dtype:
            arr = value
        else:
            try:
                arr = np.asarray(value)
            except Exception as exc:  # ragged lists and the like
                raise TypeError(f"{what}: cannot convert {type(value).__name__} to an array of {self}: {exc}") from None
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"{what}: expected numeric data of type {self}, got dtype {arr.dtype} "
                                f"({type(value).__name__})")
            if arr.dtype.name != self.dtype:
                if not _is_safe_cast(value, arr, self.dtype, allow_downcast):
                    raise TypeError(
                        f"{what}: expected {self}, got an array of dtype {arr.dtype}; converting it would lose "
                        f"precision. Pass data of dtype {self.dtype} or compile with allow_input_downcast=True.")
                arr = arr.astype(self.dtype)
        if arr.ndim != self.ndim:
            raise TypeError(f"{what}: expected {self.ndim}-d data of type {self}, got shape {arr.shape} ({arr.ndim}-d)")
        if not self.accepts_shape(arr.shape):
            raise TypeError(f"{what}: expected static shape {_fmt_shape(self.shape)}, got {arr.shape}")
        return arr


def _is_safe_cast(value, arr, dtype, allow_downcast):
    """Theano's rule: True casts anything; None also admits Python numbers and lists whose conversion
    loses nothing (``[1, 2, 3]`` or ``11.0`` for float32) and Python floats into floatX; False admits
    only casts numpy calls safe."""
    if allow_downcast or np.can_cast(arr.dtype, dtype, "safe"):
        return True
    if allow_downcast is None and not isinstance(value, (np.ndarray, np.generic)):
        if np.dtype(dtype).kind in "iu" and arr.dtype.kind in "biu":  # Python ints that fit
            info = np.iinfo(dtype)
            return arr.size == 0 or (info.min <= arr.min() and arr.max() <= info.max)
        if dtype == config.floatX and arr.dtype.kind in "biuf":
            return True
        if arr.dtype.kind in "biufc" and np.dtype(dtype).kind in "fc":
            with np.errstate(all="ignore"):
                return bool(np.array_equal(arr.astype(dtype).astype(arr.dtype), arr, equal_nan=arr.dtype.kind in "fc"))
    return False


def _fmt_shape(shape):
    return "(" + ", ".join("?" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class Tag:
    """Free-form annotations on an Apply: where the user built it and which forward node it differentiates."""

    __slots__ = ("trace", "grad_of")

    def __init__(self, trace=None, grad_of=None):
        self.trace = trace
        self.grad_of = grad_of


# Stack of forward Apply nodes whose pullback is being built (set by grad.py).
_grad_context = []


_IN_PACKAGE = {}  # code object -> whether it belongs to minigraph (a cache: this runs for every node)


def _user_frame():
    """(file, line, function) of the innermost caller outside this package and outside any op's
    ``make_node`` (a user-defined op's own code is not where the node was built), or None."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        inside = _IN_PACKAGE.get(code)
        if inside is None:  # minigraph's own code, or the make_node of a user-defined op: not the call site
            inside = _IN_PACKAGE[code] = code.co_filename.startswith(_PACKAGE_DIR + os.sep) or (
                code.co_name == "make_node" and isinstance(frame.f_locals.get("self"), Op))
        if not inside:
            return (code.co_filename, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None


class Apply:
    """The statement ``outputs = op(*inputs)``."""

    __slots__ = ("op", "inputs", "outputs", "tag")

    def __init__(self, op, inputs, output_types, names=None):
        self.op = op
        self.inputs = list(inputs)
        for i, v in enumerate(self.inputs):
            if not isinstance(v, Variable):
                raise TypeError(f"{op}: input {i} is {type(v).__name__}, not a Variable")
        self.outputs = [Variable(t, owner=self, index=i) for i, t in enumerate(output_types)]
        grad_of = _grad_context[-1] if _grad_context else None
        self.tag = Tag(trace=_user_frame(), grad_of=grad_of)
        if self.tag.trace is None and grad_of is not None:
            self.tag.trace = grad_of.tag.trace

    def __repr__(self):
        return f"Apply({self.op}, {[str(i) for i in self.inputs]})"

    @property
    def out(self):
        (o,) = self.outputs
        return o

    def where(self):
        """Human-readable place in the user's code where this node was built."""
        if self.tag.trace is None:
            return "unknown location"
        fname, line, func = self.tag.trace
        return f"{fname}:{line} in {func}"


class Op:
    """Base class of all operations.

    Subclasses are frozen dataclasses (equality and hashing by parameters, which
    merging relies on) and define:

    * ``make_node(*inputs)`` -> ``Apply``: check the inputs, compute output types;
    * ``perform(*input_values)`` -> output value (or tuple of values): pure numpy;
    * ``pullback(inputs, outputs, cotangents)`` -> one Variable (or None for "no
      gradient") per input, built as a graph.
    """

    nout = 1
    foldable = True      # constant folding may run it at compile time
    broadcasts = False   # the grad driver sums input gradients back to the input's shape
    fresh = False        # the output never shares memory with an input (the compiler may reuse its buffer)

    def __call__(self, *inputs):
        node = self.make_node(*inputs)
        if config.compute_test_value != "off":
            from .testvalue import compute
            compute(node)
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    def make_thunk(self, node):
        """A callable taking input values and returning the output value(s); override to specialise."""
        return self.perform

    def writes_into(self, node):
        """Whether ``make_thunk(node)`` accepts ``out=``, a buffer of the result's shape and dtype that it
        fills and returns: "any" (any strides), "contiguous" (C-ordered only) or None."""
        return None

    def generated_sources(self):
        """{name: source} of code this op generated for itself (a scan's step programs and loops)."""
        return {}

    def perform(self, *inputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def pullback(self, inputs, outputs, cotangents):
        raise NonDifferentiable(f"{self} has no gradient")

    def lower_jax(self, node):
        """The op in JAX: a function of jax arrays returning what ``perform`` returns, or None when the
        op has none (the JAX backend then calls ``perform`` on the host).  Import jax inside it."""
        return None

    def __str__(self):
        return type(self).__name__


def op(cls):
    """Class decorator: a frozen dataclass op (hashable, comparable)."""
    return dataclass(frozen=True)(cls)


class NonDifferentiable(TypeError):
    """Raised when a gradient is asked through an op that has none."""


class VariableTag:
    """Free-form annotations on a variable (Theano's ``var.tag``).  A ``test_value`` set here is checked
    against the variable's type (see ``minigraph.testvalue``)."""

    def __init__(self, var):
        object.__setattr__(self, "_var", var)

    def __setattr__(self, name, value):
        if name == "test_value":
            var = self._var
            value = var.type.filter(value, allow_downcast=None, what=f"test value of {var}")
        object.__setattr__(self, name, value)


class Variable:
    """A typed symbolic value."""

    __array_priority__ = 1000  # numpy must defer to our operators: ndarray + Variable -> Variable

    def __init__(self, type, owner=None, index=None, name=None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name

    @property
    def tag(self):
        """Annotations (Theano's ``tag``): ``x.tag.test_value = ...`` and anything else code stores there."""
        tag = self.__dict__.get("tag")
        if tag is None:
            tag = self.__dict__["tag"] = VariableTag(self)
        return tag

    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)
    broadcastable = property(lambda self: self.type.broadcastable)
    static_shape = property(lambda self: self.type.shape)

    def __repr__(self):
        return str(self)

    def __str__(self):
        if self.name:
            return self.name
        if self.owner is not None:
            op_name = str(self.owner.op)
            return f"{op_name}.out" if len(self.owner.outputs) == 1 else f"{op_name}.{self.index}"
        return f"<{self.type}>"

    def describe(self):
        """Name (if any) plus static type, for error messages."""
        return f"{self} {self.type}" if self.name else f"{self}: {self.type}"

    def clone(self):
        return type(self)(self.type, name=self.name)

    def eval(self, inputs_to_values=None):
        """Compile and run this variable; ``inputs_to_values`` maps input variables to values."""
        from .compile import function
        inputs_to_values = inputs_to_values or {}
        keys = list(inputs_to_values)
        fn = function(keys, self, on_unused_input="ignore")
        return fn(*[inputs_to_values[k] for k in keys])

    # ---- Python operators and methods: all delegate to minigraph.tensor
    def __add__(self, o): return _T().add(self, o)
    def __radd__(self, o): return _T().add(o, self)
    def __sub__(self, o): return _T().sub(self, o)
    def __rsub__(self, o): return _T().sub(o, self)
    def __mul__(self, o): return _T().mul(self, o)
    def __rmul__(self, o): return _T().mul(o, self)
    def __truediv__(self, o): return _T().true_div(self, o)
    def __rtruediv__(self, o): return _T().true_div(o, self)
    def __floordiv__(self, o): return _T().floor_div(self, o)
    def __rfloordiv__(self, o): return _T().floor_div(o, self)
    def __mod__(self, o): return _T().mod(self, o)
    def __rmod__(self, o): return _T().mod(o, self)
    def __pow__(self, o): return _T().pow(self, o)
    def __rpow__(self, o): return _T().pow(o, self)
    def __matmul__(self, o): return _T().matmul(self, o)
    def __rmatmul__(self, o): return _T().matmul(o, self)
    def __neg__(self): return _T().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _T().abs(self)
    def __lt__(self, o): return _T().lt(self, o)
    def __le__(self, o): return _T().le(self, o)
    def __gt__(self, o): return _T().gt(self, o)
    def __ge__(self, o): return _T().ge(self, o)
    def __and__(self, o): return _T().and_(self, o)
    def __rand__(self, o): return _T().and_(o, self)
    def __or__(self, o): return _T().or_(self, o)
    def __ror__(self, o): return _T().or_(o, self)
    def __xor__(self, o): return _T().xor(self, o)
    def __rxor__(self, o): return _T().xor(o, self)
    def __invert__(self): return _T().invert(self)
    def __getitem__(self, idx): return _T().getitem(self, idx)
    # Identity semantics: variables are dict keys everywhere, so == stays Python's `is`.
    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError(f"the truth value of symbolic variable {self} is unknown when the graph is built; "
                        "use T.switch / T.eq instead of Python's if / ==")

    def __iter__(self):
        raise TypeError(f"symbolic variable {self} is not iterable; index it (x[i]) or use scan")

    def __len__(self):
        raise TypeError(f"len() of symbolic variable {self} is unknown; use {self}.shape[0]")

    T = property(lambda self: _T().transpose(self))
    shape = property(lambda self: _T().shape(self))
    size = property(lambda self: _T().prod(_T().shape(self)))

    def sum(self, axis=None, keepdims=False, dtype=None, acc_dtype=None):
        return _T().sum(self, axis, keepdims, dtype=dtype, acc_dtype=acc_dtype)
    def mean(self, axis=None, keepdims=False, dtype=None, acc_dtype=None):
        return _T().mean(self, axis, keepdims, dtype=dtype, acc_dtype=acc_dtype)
    def prod(self, axis=None, keepdims=False, dtype=None, acc_dtype=None):
        return _T().prod(self, axis, keepdims, dtype=dtype, acc_dtype=acc_dtype)
    def max(self, axis=None, keepdims=False): return _T().max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _T().min(self, axis, keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return _T().var(self, axis, keepdims, ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return _T().std(self, axis, keepdims, ddof)
    def argmax(self, axis=None, keepdims=False): return _T().argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return _T().argmin(self, axis, keepdims)
    def dimshuffle(self, *pattern): return _T().dimshuffle(self, *pattern)
    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, Variable)):
            shape = shape[0]
        return _T().reshape(self, shape, ndim=ndim)
    def flatten(self, ndim=1): return _T().flatten(self, ndim)
    def transpose(self, *axes): return _T().transpose(self, *axes)
    def dot(self, o): return _T().dot(self, o)
    def astype(self, dtype): return _T().cast(self, dtype)
    def exp(self): return _T().exp(self)
    def log(self): return _T().log(self)
    def tanh(self): return _T().tanh(self)
    def sqrt(self): return _T().sqrt(self)
    def clip(self, lo, hi): return _T().clip(self, lo, hi)
    def nonzero_values(self): raise NotImplementedError("nonzero_values has a data-dependent shape")
    def copy(self, name=None):
        out = _T().identity(self)
        out.name = name
        return out


class _TensorAPI:
    """The operators of Variable are minigraph.tensor's functions; tensor binds itself here when imported
    (the graph layer never imports the layers above it)."""

    module = None


def _T():
    return _TensorAPI.module


class Constant(Variable):
    """A variable with a fixed value.  Python scalars become *weak* constants that adopt the dtype
    of the tensor they meet (``x_float32 * 2.0`` stays float32)."""

    def __init__(self, type, data, name=None, weak=False):
        super().__init__(type, name=name)
        data = np.array(data, dtype=type.dtype)  # private read-only copy
        data.setflags(write=False)
        self.data = data
        self.weak = weak

    def clone(self):
        return self

    value = property(lambda self: self.data, doc="The constant's value (read-only), as Theano names it.")

    def signature(self):
        return (self.type, self.weak, self.data.tobytes())

    def __str__(self):
        if self.name:
            return self.name
        if self.data.size <= 8:
            body = np.array2string(self.data, separator=",", threshold=8).replace("\n", "")
            return f"{body}" if not self.weak else body
        return f"Constant{{{self.type}}}"


class Container:
    """The storage cell shared between a SharedVariable and every function that reads or updates it.

    ``value`` is the host (numpy) array.  A backend that keeps the value on a device between calls
    holds it in ``device``; after it updates the value there (``set_device``), the host copy is made
    only when someone reads ``value``.  Assigning ``value`` drops the device copy.
    """

    __slots__ = ("_value", "device", "lock", "order")
    _created = itertools.count()

    def __init__(self, value):
        self._value = value
        self.device = None
        self.lock = threading.Lock()  # held by a function while it reads, computes and writes its updates
        self.order = next(Container._created)  # the order locks are taken in

    @property
    def value(self):
        v = self._value
        if v is None:  # the newest value is on the device: one copy to the host, on demand
            v = self._value = np.array(self.device)
        return v

    @value.setter
    def value(self, v):
        self._value = v
        self.device = None

    def set_device(self, array):
        """The value is now ``array`` on the device; the host copy is stale."""
        self.device = array
        self._value = None

    def __reduce__(self):  # pickled as its value; the copy gets its own lock
        return Container, (self.value,)


class SharedVariable(Variable):
    """A variable whose value lives between calls and can be updated by compiled functions."""

    def __init__(self, type, value, name=None, strict=False, allow_downcast=None):
        super().__init__(type, name=name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.container = Container(self._filter(value))

    def _filter(self, value):
        what = f"shared variable {self.name or '<unnamed>'}"
        if self.strict and not (isinstance(value, np.ndarray) and value.dtype.name == self.type.dtype):
            raise TypeError(f"{what} is strict: expected an ndarray of dtype {self.type.dtype}, got {type(value).__name__}"
                            f"{' of dtype ' + value.dtype.name if isinstance(value, np.ndarray) else ''}")
        return self.type.filter(value, allow_downcast=self.allow_downcast, what=what)

    def get_value(self, borrow=False, return_internal_type=False):
        v = self.container.value
        return v if borrow else v.copy()

    def set_value(self, value, borrow=False):
        arr = self._filter(value)
        if not borrow and arr is value:
            arr = arr.copy()
        with self.container.lock:  # not in the middle of a function's update
            self.container.value = arr

    def clone(self):
        return self

    value = property(lambda self: self.get_value(borrow=True))

    def __str__(self):
        return self.name or f"<shared {self.type}>"


def shared(value, name=None, strict=False, allow_downcast=None, shape=None, borrow=False):
    """Create a SharedVariable holding ``value`` (copied unless ``borrow``).

    The static shape is the value's shape; pass ``shape`` with ``None`` entries
    for axes whose length may change through ``set_value``.
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes numeric data, not a symbolic variable")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"shared() needs numeric data, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not isinstance(value, np.ndarray) and arr.ndim == 0:
        arr = arr.astype(config.floatX)  # a Python float follows floatX
    if not borrow or not isinstance(value, np.ndarray):
        arr = np.array(arr, copy=True)
    static = arr.shape if shape is None else tuple(shape)
    return SharedVariable(TensorType(arr.dtype, static), arr, name=name, strict=strict,
                          allow_downcast=allow_downcast)


def as_variable(x, dtype=None):
    """Turn a Variable, number or array into a Variable (numbers become weak constants)."""
    if isinstance(x, Variable):
        return x
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        if dtype is None:
            dtype = "bool" if isinstance(x, bool) else ("int64" if isinstance(x, int) else config.floatX)
        return Constant(TensorType(dtype, ()), x, weak=True)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in x):
        return _T().stack(x)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"cannot turn {type(x).__name__} of dtype {arr.dtype} into a tensor constant")
    if dtype is not None:
        arr = arr.astype(dtype)
    return Constant(TensorType(arr.dtype, arr.shape), arr)


def constant(value, name=None, dtype=None):
    """A named (non-weak) constant."""
    arr = np.asarray(value, dtype=dtype)
    if arr.dtype.kind == "f" and dtype is None and not isinstance(value, np.ndarray):
        arr = arr.astype(config.floatX)
    return Constant(TensorType(arr.dtype, arr.shape), arr, name=name)


def paused_gc(fn):
    """Decorator for whole-graph passes: pause Python's cyclic garbage collector while ``fn`` runs.

    A pass over a big graph allocates many long-lived objects; each allocation burst triggers a
    full collection that re-scans the whole heap (for a 100k-node graph, half of the compile
    time).  Nothing a pass allocates is garbage before it returns, so the collector can wait
    (the same trick as Mercurial's ``util.nogc``).
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()
    return wrapper


# ---------------------------------------------------------------------------
# Traversal: iterative (no recursion limit on 100k-node graphs) and deterministic.

@paused_gc
def toposort(outputs, stop_at=()):
    """Apply nodes needed to compute ``outputs``, each after the nodes computing its inputs.

    Traversal does not go above variables in ``stop_at``.
    """
    stop = set(map(id, stop_at))
    order, done = [], set()
    stack = []
    for out in reversed(list(outputs)):
        if out.owner is not None and id(out) not in stop:
            stack.append((out.owner, False))
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        for inp in reversed(node.inputs):
            if inp.owner is not None and id(inp.owner) not in done and id(inp) not in stop:
                stack.append((inp.owner, False))
    return order


def ancestors(outputs, stop_at=()):
    """All variables that ``outputs`` depend on (including themselves), in a deterministic order."""
    seen, result = set(), []
    def visit(v):
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)
    for node in toposort(outputs, stop_at):
        for v in node.inputs:
            visit(v)
        for v in node.outputs:
            visit(v)
    for v in outputs:
        visit(v)
    return result


def graph_inputs(outputs, stop_at=()):
    """Ownerless variables (inputs, constants, shared variables) that ``outputs`` depend on."""
    stop = set(map(id, stop_at))
    return [v for v in ancestors(outputs, stop_at) if v.owner is None or id(v) in stop]


@paused_gc
def clone_replace(outputs, replace=None, strict=True, share_inputs=True):
    """Copy the graph of ``outputs`` with variables substituted per ``replace`` ({old: new}).

    Nodes that depend on a replaced variable are rebuilt through ``make_node``,
    so types are re-inferred (e.g. a ``givens`` value with a known shape).
    Others are shared with the original graph.  (``strict`` and ``share_inputs`` are Theano's
    ``clone`` arguments: replacements must keep the number of dimensions either way, and inputs
    are always shared.)
    """
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    memo = {}
    for old, new in (replace or {}).items():
        new = as_variable(new)
        if old.ndim != new.ndim:
            raise TypeError(f"cannot replace {old.describe()} by {new.describe()}: different number of dimensions")
        memo[id(old)] = new
    for node in toposort(outs, stop_at=[k for k in (replace or {})]):
        new_inputs = [memo.get(id(v), v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = node.op.make_node(*new_inputs)
        new_node.tag.trace = node.tag.trace
        new_node.tag.grad_of = node.tag.grad_of
        for old, new in zip(node.outputs, new_node.outputs):
            new.name = old.name
            memo[id(old)] = new
    result = [memo.get(id(v), v) for v in outs]
    return result[0] if single else result
