"""Price data for the LSTM examples: loading, checking and shaping.

This module only needs numpy and the standard library.  It covers four jobs:

* **Built-in data** -- :func:`load_stock` and :func:`available_symbols` read
  the daily prices shipped in ``lstm/datasets/stocks.csv`` (see
  ``lstm/datasets/PROVENANCE.md`` for where those numbers come from).
* **User data** -- :func:`load_csv` reads a ``date,price`` CSV file and
  :func:`load_legacy_pickle` reads the seed tutorial's ``stockTT.bin`` file
  without ever running code stored in it.
* **Shaping** -- :func:`make_windows` and :func:`tutorial_pairs` cut a series
  into (input window, next value) pairs; :func:`log_returns`,
  :func:`prices_from_returns` and :func:`one_step_prices` move between prices
  and log returns.
* **Evaluation hygiene** -- :func:`chronological_split` splits without
  shuffling and :class:`Standardizer` learns its statistics from the training
  part only.

Every problem with the input is reported as a :class:`DataError` (a
``ValueError``) whose message says what is wrong and where.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import math
import operator
import os
import pickle
import re
import reprlib
import warnings
from importlib import resources

import numpy as np

__all__ = [
    "DataError",
    "DataWarning",
    "UnsafePickleError",
    "check_prices",
    "MIN_PRICE",
    "MAX_PRICE",
    "MAX_PICKLE_ELEMENTS",
    "MAX_PICKLE_BYTES",
    "available_symbols",
    "load_stock",
    "load_csv",
    "load_legacy_pickle",
    "make_windows",
    "tutorial_pairs",
    "log_returns",
    "prices_from_returns",
    "one_step_prices",
    "chronological_split",
    "Standardizer",
]

_SHIPPED_CSV = "stocks.csv"
_ALLOWED_PICKLE_CONTENT = "only lists, tuples, ints and floats are allowed"
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?")
MIN_PRICE, MAX_PRICE = 1e-8, 1e12  # prices outside are data errors (units, corruption), not markets
MAX_PICKLE_BYTES = 8 * 1024 ** 2  # bounds what the unpickler itself can build (a few objects per byte)
MAX_PICKLE_ELEMENTS = 5_000_000  # numbers and lists a legacy pickle may expand to (shared references count each time)
_PICKLE_DEPTH = 3                 # (xlist, ylist) -> row -> number
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxtuple, _SHORT_REPR.maxother = 1, 3, 3, 37


class DataError(ValueError):
    """Raised for any problem with input data; the message explains it."""


class DataWarning(UserWarning):
    """Something in the input was fixed up (e.g. a file in reverse date order); the message says what."""


class UnsafePickleError(DataError):
    """Raised when a pickle asks to import or look up anything.

    Such a pickle is refused before any of its instructions that could run
    code are carried out.
    """


# ---------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _check_length(count: int, expected: int, where: str, unit: str, why: str) -> None:
    """Fail unless a row has ``expected`` entries (``why`` explains the rule)."""
    if count != expected:
        raise DataError(f"{where} has {_plural(count, unit)}, expected {expected} ({why})")


def _to_float(value: object, where: str, allow_text: bool = False) -> float:
    """Return ``value`` as a finite float, or explain why it is not one.

    This is the single value check behind both the CSV reader (which passes
    text, ``allow_text=True``) and the legacy pickle reader (which must only
    see ints, floats and bools).  ``where`` names the place in the input.
    """
    if isinstance(value, str) and allow_text:
        text = value.strip()
        if not text:
            raise DataError(f"{where}: the value is empty")
        try:
            number = float(text)
        except ValueError:
            raise DataError(f"{where}: {value!r} is not a number") from None
    elif isinstance(value, (bool, int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise DataError(f"{where}: {value} is too large for a float") from None
    else:
        shown = _SHORT_REPR.repr(value)  # depth-limited: a deeply nested list cannot exhaust the stack
        raise DataError(
            f"{where}: {shown} is a {type(value).__name__}, expected an int or float"
        )
    if not math.isfinite(number):
        raise DataError(f"{where}: {value!r} is not finite (NaN and infinity are not allowed)")
    return number


def _positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int >= 1 (bools and floats are refused)."""
    if isinstance(value, bool):
        raise DataError(f"{name} must be a positive integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise DataError(f"{name} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise DataError(f"{name} must be a positive integer, got {number}")
    return number


def _finite_array(values: object, name: str, ndim: int | None = 1) -> np.ndarray:
    """Return ``values`` as a float64 array with no NaN/inf and ``ndim`` dims."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric: {exc}") from None
    if ndim is not None and array.ndim != ndim:
        raise DataError(f"{name} must be {ndim}-dimensional, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array.ravel()))
    if bad.size:
        index = np.unravel_index(bad[0], array.shape)
        position = index[0] if len(index) == 1 else index
        raise DataError(
            f"{name} contains {_plural(bad.size, 'non-finite value')}; "
            f"the first is {array[index]} at index {position}"
        )
    return array


# ---------------------------------------------------------------------------
# Built-in stock prices
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _shipped_table() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Parse the shipped CSV once: symbol -> (dates, close, adj_close)."""
    text = resources.files(__package__).joinpath("datasets", _SHIPPED_CSV).read_text("utf-8")
    columns: dict[str, tuple[list, list, list]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        dates, close, adj_close = columns.setdefault(row["symbol"], ([], [], []))
        dates.append(row["date"])
        close.append(row["close"])
        adj_close.append(row["adj_close"])
    return {
        symbol: (
            np.array(dates, dtype="datetime64[D]"),
            np.array(close, dtype=np.float64),
            np.array(adj_close, dtype=np.float64),
        )
        for symbol, (dates, close, adj_close) in columns.items()
    }


def available_symbols() -> tuple[str, ...]:
    """Return the ticker symbols shipped with the package, sorted."""
    return tuple(sorted(_shipped_table()))


def load_stock(symbol: str = "AAPL", adjusted: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(dates, prices)`` of one shipped stock, oldest first.

    ``dates`` is a ``datetime64[D]`` array of trading days and ``prices`` a
    float64 array of daily closing prices in US dollars.

    With ``adjusted=True`` (the default) the prices are the split- and
    dividend-adjusted closes, which is what a model should see: the raw
    closes fall by half or more on split days (AAPL 2000 and 2005, MSFT
    2003) although nothing happened to the company's value.  With
    ``adjusted=False`` the raw closing prices as quoted on each day are
    returned.  The symbol is matched case-insensitively; an unknown symbol
    raises :class:`DataError` listing the available ones.
    """
    if not isinstance(symbol, str):
        raise DataError(f"symbol must be a string such as 'AAPL', got {symbol!r}")
    table = _shipped_table()
    key = symbol.strip().upper()
    if key not in table:
        raise DataError(
            f"no built-in data for symbol {symbol!r}; available symbols: "
            + ", ".join(available_symbols())
        )
    dates, close, adj_close = table[key]
    return dates.copy(), (adj_close if adjusted else close).copy()


# ---------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------


def _parse_date(text: str, where: str) -> np.datetime64:
    """Parse ``YYYY-MM-DD`` (optionally followed by ``T``/space and a time)."""
    value = text.strip()
    if _DATE_RE.fullmatch(value):
        try:
            return np.datetime64(datetime.date.fromisoformat(value[:10]), "D")
        except ValueError:
            pass
    raise DataError(f"{where}: {text!r} is not a date in YYYY-MM-DD form")


def _read_csv_rows(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return the header and the ``(line number, fields)`` of each data row.

    Blank lines are skipped.  File-system and decoding problems become
    :class:`DataError`.
    """
    from .files import open_input

    try:
        with open_input(path, "CSV file") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a CSV file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty, expected a header row and data rows")
    header = [name.strip() for name in rows[0][1]]
    return header, rows[1:]


def _delimiter_hint(header: list[str]) -> str:
    for sep in (";", "\t", "|"):
        if len(header) == 1 and sep in header[0]:
            shown = "a tab" if sep == "\t" else f"'{sep}'"
            return f"; the header looks {shown}-separated, but this reader expects commas"
    return ""


def _column_index(header: list[str], name: str, path: str | os.PathLike) -> int:
    if name not in header:
        present = ", ".join(repr(column) for column in header)
        raise DataError(f"{path}: column {name!r} not found; columns present: {present}"
                        f"{_delimiter_hint(header)}")
    return header.index(name)


def load_csv(
    path: str | os.PathLike, date_col: str = "date", price_col: str = "close"
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(dates, prices)`` from a CSV file with a header row.

    The file must be UTF-8 (a byte-order mark is fine) and contain a header
    row naming at least ``date_col`` and ``price_col``; other columns are
    ignored, but every data row must have as many fields as the header.
    Dates are ``YYYY-MM-DD``, optionally followed by a time
    (``2013-03-01T16:00:00`` or ``2013-03-01 16:00``; the time is dropped).
    Prices must be finite numbers.  Blank lines are skipped.

    Rows must be in date order.  A file that is entirely newest-first is
    reversed with a :class:`DataWarning`; a date that repeats or goes back
    in time otherwise is refused.  Prices are checked by :func:`check_prices`.
    Errors name the data row (counting from 1 after the header), the line of
    the file and the date.
    """
    header, rows = _read_csv_rows(path)
    date_index = _column_index(header, date_col, path)
    price_index = _column_index(header, price_col, path)
    if not rows:
        raise DataError(f"{path}: the file has a header but no data rows")
    dates, prices, places = [], [], []
    for number, (line, fields) in enumerate(rows, start=1):
        where = f"{path}, row {number} (line {line})"
        _check_length(len(fields), len(header), where, "field", "one per header column")
        dates.append(_parse_date(fields[date_index], f"{where}, column {date_col!r}"))
        prices.append(_to_float(fields[price_index], f"{where}, column {price_col!r}", True))
        places.append(f"row {number} (line {line}, {dates[-1]})")
    dates, prices = np.array(dates, dtype="datetime64[D]"), np.array(prices)
    if len(dates) > 1 and np.all(dates[1:] < dates[:-1]):
        warnings.warn(f"{path}: the rows are newest first (row 1 is {dates[0]}, the last row {dates[-1]}); "
                      "they were put in date order", DataWarning, stacklevel=2)
        dates, prices, places = dates[::-1], prices[::-1], places[::-1]
    _check_date_order(dates, places, path)
    check_prices(prices, places, path)
    return dates, prices


def _check_date_order(dates: np.ndarray, places: list[str], path) -> None:
    """Refuse a date that repeats or goes back in time, naming both rows."""
    step = np.flatnonzero(dates[1:] <= dates[:-1])
    if step.size:
        i = int(step[0])
        how = "repeats the date of" if dates[i + 1] == dates[i] else "goes back in time from"
        raise DataError(f"{path}: {places[i + 1]} {how} {places[i]}; one price per date, in date order, "
                        "is expected")


def check_prices(prices, places=None, source: str = "prices") -> np.ndarray:
    """Refuse prices a forecast cannot use, naming the row: not finite, not positive, outside
    [:data:`MIN_PRICE`, :data:`MAX_PRICE`] (corrupt or in the wrong unit), or never changing.

    Messages start with ``source`` (the file) and ``places[i]`` (row, line and date of price
    ``i``; by default its index).
    """
    values = np.asarray(prices, dtype=np.float64)
    name = (lambda i: f"{source}: {places[i]}") if places is not None else (lambda i: f"{source}[{i}]")
    for test, why in ((lambda v: ~np.isfinite(v), "is not finite"),
                      (lambda v: v <= 0, "is not positive; prices must be > 0 to take log returns"),
                      (lambda v: (v < MIN_PRICE) | (v > MAX_PRICE),
                       f"is outside [{MIN_PRICE:g}, {MAX_PRICE:g}], the range this program accepts as a price")):
        bad = np.flatnonzero(test(values))
        if bad.size:
            i = int(bad[0])
            more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
            raise DataError(f"{name(i)}: the price {values[i]:g} {why}{more}")
    if values.size > 1 and np.all(values == values[0]):
        last = places[-1] if places is not None else f"[{values.size - 1}]"
        raise DataError(f"{name(0)} to {last}: every price is {values[0]:g}; a constant "
                        "series has nothing to forecast")
    return values


# ---------------------------------------------------------------------------
# The seed tutorial's pickle file
# ---------------------------------------------------------------------------


class _PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that cannot import anything.

    Every way a pickle can run code goes through a global looked up by
    :meth:`find_class` (or an object supplied by :meth:`persistent_load`), so
    refusing both means loading can only build plain containers, numbers,
    strings and bytes.  What it builds is checked afterwards.
    """

    def __init__(self, file: io.BytesIO, source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str):
        raise UnsafePickleError(
            f"refusing to load {self._source}: the pickle tries to import "
            f"{module}.{name}; {_ALLOWED_PICKLE_CONTENT}"
        )

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"refusing to load {self._source}: the pickle refers to an external "
            f"object (persistent id); {_ALLOWED_PICKLE_CONTENT}"
        )


def _unpickle_plain(path: str | os.PathLike) -> object:
    """Load a pickle with :class:`_PlainDataUnpickler`, mapping every failure."""
    from .files import open_input

    try:
        with open_input(path, "pickle file", binary=True, max_bytes=MAX_PICKLE_BYTES) as handle:
            payload = handle.read()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not payload:
        raise DataError(f"{path}: the file is empty")
    try:
        return _PlainDataUnpickler(io.BytesIO(payload), str(path)).load()
    except DataError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways
        raise DataError(
            f"{path}: not a valid pickle file, it may be truncated or corrupt "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _check_count(count: int, source: str) -> None:
    if count > MAX_PICKLE_ELEMENTS:
        raise DataError(f"{source}: the pickle expands to more than {MAX_PICKLE_ELEMENTS:,} values and "
                        "lists (repeated references count each time); refusing to load it")


def _bounded_size(obj: object, source: str) -> int:
    """Count the lists and numbers ``obj`` expands to, refusing more than :data:`MAX_PICKLE_ELEMENTS`.

    Shared references count every time they are used, which is what building arrays from them
    would cost.  The walk goes no deeper than the tutorial's ``(xlist, ylist) -> row -> value``
    (a row is counted by its length; anything nested below is refused afterwards by the
    structure check, whose messages are depth-limited), keeps one iterator per level (no
    recursion) and stops at the first limit crossed, so it is cheap whatever the pickle holds.
    """
    count, stack, end = 0, [iter((obj,))], object()
    while stack:
        item = next(stack[-1], end)
        if item is end:
            stack.pop()
            continue
        count += 1
        if isinstance(item, (list, tuple)):
            if len(stack) == _PICKLE_DEPTH:
                count += len(item)  # a row: its values are counted, not visited
            else:
                stack.append(iter(item))
        _check_count(count, source)
    return count


def _as_sequence(value: object, where: str) -> list | tuple:
    if not isinstance(value, (list, tuple)):
        raise DataError(
            f"{where} is a {type(value).__name__}, expected a list; {_ALLOWED_PICKLE_CONTENT}"
        )
    return value


def _check_tutorial_pair(obj: object, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a loaded ``(xlist, ylist)`` pair and convert it to arrays."""
    if not isinstance(obj, (list, tuple)) or len(obj) != 2:
        found = (
            f"a {type(obj).__name__} of {_plural(len(obj), 'item')}"
            if isinstance(obj, (list, tuple))
            else f"a {type(obj).__name__}"
        )
        raise DataError(f"{source}: expected a pickled pair (xlist, ylist), found {found}")
    xlist = _as_sequence(obj[0], f"{source}: xlist")
    ylist = _as_sequence(obj[1], f"{source}: ylist")
    if not xlist:
        raise DataError(f"{source}: xlist is empty")
    if len(xlist) != len(ylist):
        raise DataError(
            f"{source}: xlist has {_plural(len(xlist), 'row')} but ylist has "
            f"{_plural(len(ylist), 'value')}; they must match"
        )
    width = len(_as_sequence(xlist[0], f"{source}: xlist[0]"))
    if width == 0:
        raise DataError(f"{source}: xlist[0] is empty, expected at least one value")
    x = np.empty((len(xlist), width))
    for i, row in enumerate(xlist):
        where = f"{source}: xlist[{i}]"
        row = _as_sequence(row, where)
        _check_length(len(row), width, where, "value", "the length of xlist[0]")
        x[i] = [_to_float(value, f"{where}[{j}]") for j, value in enumerate(row)]
    y = np.array([_to_float(value, f"{source}: ylist[{i}]") for i, value in enumerate(ylist)])
    return x, y


def load_legacy_pickle(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Safely read the seed tutorial's ``stockTT.bin`` as ``(x, y)`` arrays.

    The file is a pickled pair ``(xlist, ylist)``: ``xlist`` a list of
    equally long lists of numbers (the inputs) and ``ylist`` a list of
    numbers (the target for each input row).  Any pickle protocol (0-5)
    is accepted.  Returns ``x`` of shape ``(N, n_inputs)`` and ``y`` of
    shape ``(N,)``, both float64.

    Pickle files can normally run arbitrary code while loading.  This reader
    refuses any pickle that names a global (a class or function such as
    ``os.system``) or a persistent id, raising :class:`UnsafePickleError`
    before anything is called, so nothing in the file is executed.  The
    loaded object is then checked: only lists, tuples, ints, floats and bools
    are accepted, rows must all have the length of ``xlist[0]``, and values
    must be finite.  Errors name the offending index, e.g. ``xlist[17]``
    (indices count from 0, as in Python).
    """
    obj = _unpickle_plain(path)
    _bounded_size(obj, str(path))
    return _check_tutorial_pair(obj, str(path))


# ---------------------------------------------------------------------------
# Shaping series for a model
# ---------------------------------------------------------------------------


def make_windows(series, window: int, horizon: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 1-D series into sliding input windows and their targets.

    Row ``i`` of ``X`` is ``series[i : i + window]`` and ``y[i]`` is
    ``series[i + window + horizon - 1]``, the value ``horizon`` steps after
    the window ends (``horizon=1``: the very next value).  Returns ``X`` of
    shape ``(N, window)`` and ``y`` of shape ``(N,)`` with
    ``N = len(series) - window - horizon + 1``; rows stay in time order.
    """
    window = _positive_int(window, "window")
    horizon = _positive_int(horizon, "horizon")
    values = _finite_array(series, "series")
    needed = window + horizon
    if values.size < needed:
        raise DataError(
            f"the series is too short: window={window} and horizon={horizon} need "
            f"at least {needed} points, but it has {values.size}"
        )
    count = values.size - needed + 1
    inputs = np.lib.stride_tricks.sliding_window_view(values, window)[:count].copy()
    return inputs, values[needed - 1 :].copy()


def tutorial_pairs(prices, n_inputs: int = 5) -> tuple[list[list[float]], list[float]]:
    """Build the seed tutorial's ``(xlist, ylist)`` lists from a price series.

    Each ``xlist[i]`` is the ``n_inputs`` consecutive prices
    ``prices[i : i + n_inputs]`` and ``ylist[i]`` is the price right after
    them, ``prices[i + n_inputs]``.  The result has the same shape as the
    pair stored in ``stockTT.bin`` (plain Python lists of floats), so code
    written for that file can run on the built-in data, e.g.
    ``tutorial_pairs(load_stock("IBM")[1])``.  Prices are used as they are:
    no scaling or returns are applied.
    """
    inputs, targets = make_windows(prices, n_inputs, horizon=1)
    return inputs.tolist(), targets.tolist()


def _positive_prices(prices, name: str) -> np.ndarray:
    values = _finite_array(prices, name)
    bad = np.flatnonzero(values <= 0)
    if bad.size:
        raise DataError(
            f"{name} must be positive to use log returns; {name}[{bad[0]}] is {values[bad[0]]}"
        )
    return values


def log_returns(prices) -> np.ndarray:
    """Return ``log(prices[t + 1] / prices[t])`` for each step (length n - 1).

    Prices must be positive and finite, and there must be at least two.
    """
    values = _positive_prices(prices, "prices")
    if values.size < 2:
        raise DataError(f"log returns need at least 2 prices, got {values.size}")
    return np.diff(np.log(values))


def prices_from_returns(start_price: float, returns) -> np.ndarray:
    """Compound log returns from ``start_price`` into a price path.

    The result has ``len(returns) + 1`` entries and starts with
    ``start_price``, so ``prices_from_returns(p[0], log_returns(p))``
    reproduces ``p``.  Use it to turn a sequence of predicted returns into
    the price path they imply.
    """
    start = _positive_prices([start_price], "start_price")[0]
    steps = _finite_array(returns, "returns")
    return start * np.exp(np.concatenate(([0.0], np.cumsum(steps))))


def one_step_prices(previous_prices, predicted_returns) -> np.ndarray:
    """Turn one-step-ahead return predictions into price predictions.

    ``previous_prices[i]`` is the last known price before prediction ``i``;
    the predicted price is ``previous_prices[i] * exp(predicted_returns[i])``.
    This is how a forecast made every day from the actual previous close is
    compared with actual prices.
    """
    previous = _positive_prices(previous_prices, "previous_prices")
    predicted = _finite_array(predicted_returns, "predicted_returns")
    if previous.shape != predicted.shape:
        raise DataError(
            f"previous_prices has {previous.size} values but predicted_returns has "
            f"{predicted.size}; they must match"
        )
    return previous * np.exp(predicted)


# ---------------------------------------------------------------------------
# Splitting and scaling
# ---------------------------------------------------------------------------


def chronological_split(n: int, fractions=(0.7, 0.15, 0.15)) -> tuple[slice, ...]:
    """Split ``range(n)`` into consecutive, non-empty slices, oldest first.

    ``fractions`` are the shares of each part (e.g. train, validation,
    test); they must be positive and add up to 1.  Returns one ``slice``
    per fraction; part boundaries are ``round(cumulative share * n)``,
    nudged where needed so that every part keeps at least one item (so
    ``n`` must be at least the number of parts).  Nothing is shuffled, so
    every test item comes after every training item, as when forecasting
    for real.
    """
    n = _positive_int(n, "n")
    shares = _finite_array(fractions, "fractions")
    if shares.size == 0 or np.any(shares <= 0) or not math.isclose(shares.sum(), 1.0):
        raise DataError(
            f"fractions must be positive and add up to 1, got {tuple(shares.tolist())}"
        )
    if n < shares.size:
        raise DataError(f"{_plural(n, 'item')} cannot be split into {shares.size} non-empty parts")
    ends = [int(end) for end in np.rint(np.cumsum(shares) * n)]
    for i in range(len(ends)):  # every part gets at least one item ...
        ends[i] = max(ends[i], (ends[i - 1] if i else 0) + 1)
    ends[-1] = n
    for i in reversed(range(len(ends) - 1)):  # ... and leaves one for each later part
        ends[i] = min(ends[i], ends[i + 1] - 1)
    return tuple(slice(start, end) for start, end in zip([0] + ends[:-1], ends))


class Standardizer:
    """Shift and scale data to zero mean and unit spread, and back.

    Fit it on the training part only, then apply the same transform to
    validation and test data; statistics taken from the whole series would
    leak information about the future into training.

    ``axis=0`` (the default) learns one mean and standard deviation per
    column (per feature of 2-D data); ``axis=None`` learns a single pair for
    all values, which suits windows of prices and their price targets alike.
    A standard deviation of (nearly) zero is replaced by 1 so that constant
    data maps to zeros instead of dividing by zero.
    """

    def __init__(self, axis: int | None = 0) -> None:
        if axis not in (0, None):
            raise DataError(f"axis must be 0 or None, got {axis!r}")
        self.axis = axis
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, data) -> "Standardizer":
        """Learn the mean and scale of ``data`` and return ``self``."""
        values = _finite_array(data, "data", ndim=None)
        if values.size == 0 or values.ndim == 0:
            raise DataError(f"cannot fit a Standardizer on data of shape {values.shape}")
        mean = values.mean(axis=self.axis)
        std = values.std(axis=self.axis)
        tiny = 1e-12 * np.maximum(1.0, np.abs(mean))
        self.mean_ = np.asarray(mean)
        self.scale_ = np.where(std > tiny, std, 1.0)
        return self

    def _checked(self, data) -> np.ndarray:
        if self.mean_ is None:
            raise DataError("the Standardizer must be fitted (call fit) before it is used")
        values = _finite_array(data, "data", ndim=None)
        if self.mean_.ndim == 1 and (values.ndim == 0 or values.shape[-1] != self.mean_.size):
            raise DataError(
                f"data has shape {values.shape}, but the Standardizer was fitted on "
                f"{self.mean_.size} columns"
            )
        return values

    def transform(self, data) -> np.ndarray:
        """Return ``(data - mean) / scale``."""
        return (self._checked(data) - self.mean_) / self.scale_

    def inverse_transform(self, data) -> np.ndarray:
        """Undo :meth:`transform`: return ``data * scale + mean``."""
        return self._checked(data) * self.scale_ + self.mean_

    def fit_transform(self, data) -> np.ndarray:
        """Fit on ``data`` and return it transformed."""
        return self.fit(data).transform(data)
