"""Tests for lstm.data: shipped prices, CSV and legacy pickle loading, shaping."""

import math
import os
import pickle
import pickletools

import numpy as np
import pytest

from lstm import data
from lstm.data import DataError, UnsafePickleError

PROTOCOLS = range(0, pickle.HIGHEST_PROTOCOL + 1)


# ---------------------------------------------------------------------------
# Shipped data
# ---------------------------------------------------------------------------


def test_available_symbols():
    assert data.available_symbols() == ("AAPL", "GOOG", "IBM", "MSFT")


@pytest.mark.parametrize("symbol", ["AAPL", "GOOG", "IBM", "MSFT"])
@pytest.mark.parametrize("adjusted", [True, False])
def test_shipped_series_is_long_sorted_and_positive(symbol, adjusted):
    dates, prices = data.load_stock(symbol, adjusted=adjusted)
    assert dates.dtype == np.dtype("datetime64[D]")
    assert prices.dtype == np.float64
    assert dates.shape == prices.shape
    # GOOG only listed in August 2004, so it has fewer rows than the others.
    assert len(prices) > (2000 if symbol == "GOOG" else 3000)
    assert np.all(np.diff(dates) > np.timedelta64(0, "D"))
    assert np.all(np.isfinite(prices)) and np.all(prices > 0)
    assert dates[-1] == np.datetime64("2013-03-01")


def test_shipped_known_values():
    dates, close = data.load_stock("AAPL", adjusted=False)
    assert dates[0] == np.datetime64("2000-03-01")
    assert close[0] == 130.31
    _, adj = data.load_stock("aapl")  # case-insensitive, adjusted by default
    assert adj[0] == pytest.approx(4.18666)


def test_adjusted_prices_have_no_split_jumps():
    dates, close = data.load_stock("MSFT", adjusted=False)
    _, adj = data.load_stock("MSFT")
    split = np.flatnonzero(dates == np.datetime64("2003-02-18"))[0]
    assert close[split] / close[split - 1] < 0.6  # 2-for-1 split in raw prices
    assert 0.9 < adj[split] / adj[split - 1] < 1.1


def test_load_stock_returns_copies():
    _, prices = data.load_stock("IBM")
    prices[:] = -1.0
    assert np.all(data.load_stock("IBM")[1] > 0)


def test_unknown_symbol_lists_available():
    with pytest.raises(DataError, match="'TSLA'.*AAPL, GOOG, IBM, MSFT"):
        data.load_stock("TSLA")
    with pytest.raises(DataError):
        data.load_stock(42)


# ---------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------


def write(tmp_path, text, name="prices.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_happy_path(tmp_path):
    path = write(
        tmp_path,
        "date,open,close\n"
        "2020-01-01T16:00:00,1,10\n"
        "\n"
        "2020-01-02 09:30,1, 11.25 \n"
        "2020-01-03,1,12.5\n",
    )
    dates, prices = data.load_csv(path)
    assert dates.dtype == np.dtype("datetime64[D]")
    assert dates.tolist() == [np.datetime64("2020-01-0" + d) for d in "123"]
    np.testing.assert_array_equal(prices, [10.0, 11.25, 12.5])


def test_csv_newest_first_is_reversed_with_a_warning(tmp_path):
    path = write(tmp_path, "date,close\n2020-01-03,3\n2020-01-02,2\n2020-01-01,1\n")
    with pytest.warns(data.DataWarning, match=r"newest first \(row 1 is 2020-01-03"):
        dates, prices = data.load_csv(path)
    assert str(dates[0]) == "2020-01-01" and prices.tolist() == [1, 2, 3]


@pytest.mark.parametrize("rows, message", [
    ("2020-01-01,1\n2020-01-02,2\n2020-01-02,3\n",
     r"row 3 \(line 4, 2020-01-02\) repeats the date of row 2 \(line 3, 2020-01-02\)"),
    ("2020-01-01,1\n2020-01-03,2\n2020-01-02,3\n",
     r"row 3 \(line 4, 2020-01-02\) goes back in time from row 2 \(line 3, 2020-01-03\)"),
    ("2020-01-01,1\n2020-01-02,0\n", r"row 2 \(line 3, 2020-01-02\): the price 0 is not positive"),
    ("2020-01-01,1e300\n2020-01-02,1e-300\n", r"row 1 \(line 2, 2020-01-01\): the price 1e\+300 is outside"),
    ("2020-01-01,5\n2020-01-02,5\n2020-01-03,5\n", r"row 1 \(line 2, 2020-01-01\) to row 3 .*constant"),
])
def test_csv_refuses_rows_naming_file_row_and_date(tmp_path, rows, message):
    path = write(tmp_path, "date,close\n" + rows)
    with pytest.raises(DataError, match=message) as info:
        data.load_csv(path)
    assert str(info.value).startswith(str(path))


def test_csv_semicolons_get_a_delimiter_hint(tmp_path):
    path = write(tmp_path, "date;close\n2020-01-01;1\n")
    with pytest.raises(DataError, match="looks ';'-separated, but this reader expects commas"):
        data.load_csv(path)


def test_csv_refuses_devices_fifos_and_huge_files(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="is a character device, expected a regular CSV file"):
        data.load_csv("/dev/zero")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"is a FIFO \(named pipe\)"):
        data.load_csv(fifo)  # no writer: must not hang
    big = write(tmp_path, "date,close\n" + "2020-01-01,1\n" * 100)
    monkeypatch.setattr("lstm.files.MAX_INPUT_BYTES", 1000)
    with pytest.raises(DataError, match="is 1311 bytes, more than the 1000 bytes this program reads"):
        data.load_csv(big)


def test_csv_other_column_names_and_bom(tmp_path):
    path = tmp_path / "yahoo.csv"
    path.write_bytes("\ufeffDate,Adj Close\n2001-02-03,4.5\n".encode("utf-8"))
    dates, prices = data.load_csv(path, date_col="Date", price_col="Adj Close")
    assert dates.tolist() == [np.datetime64("2001-02-03")]
    assert prices.tolist() == [4.5]


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.load_csv(tmp_path / "absent.csv")


def test_csv_missing_column_names_present_ones(tmp_path):
    path = write(tmp_path, "day,price\n2020-01-01,1\n")
    expected = "column 'date' not found; columns present: 'day', 'price'"
    with pytest.raises(DataError, match=expected):
        data.load_csv(path)
    with pytest.raises(DataError, match="column 'close' not found"):
        data.load_csv(path, date_col="day")


@pytest.mark.parametrize(
    "bad, shown",
    [("abc", "'abc' is not a number"), ("nan", "'nan' is not finite"),
     ("-inf", "'-inf' is not finite"), ("", "the value is empty")],
)
def test_csv_bad_price_names_row_and_value(tmp_path, bad, shown):
    path = write(tmp_path, f"date,close\n2020-01-01,1\n2020-01-02,2\n2020-01-03,{bad}\n")
    with pytest.raises(DataError) as info:
        data.load_csv(path)
    message = str(info.value)
    assert "row 3 (line 4), column 'close'" in message
    assert shown in message


def test_csv_row_numbers_skip_blank_lines_but_lines_do_not(tmp_path):
    path = write(tmp_path, "date,close\n\n2020-01-01,1\n\n2020-01-02,x\n")
    with pytest.raises(DataError, match=r"row 2 \(line 5\).*'x' is not a number"):
        data.load_csv(path)


@pytest.mark.parametrize("bad", ["01/02/2020", "2020-02-30", "yesterday", "2020-1-2"])
def test_csv_bad_date_names_row(tmp_path, bad):
    path = write(tmp_path, f"date,close\n2020-01-01,1\n{bad},2\n")
    expected = r"row 2 \(line 3\), column 'date'.*not a date in YYYY-MM-DD"
    with pytest.raises(DataError, match=expected):
        data.load_csv(path)


def test_csv_ragged_row(tmp_path):
    path = write(tmp_path, "date,close\n2020-01-01,1\n2020-01-02\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\) has 1 field, expected 2"):
        data.load_csv(path)


def test_csv_empty_file_and_header_only(tmp_path):
    with pytest.raises(DataError, match="the file is empty"):
        data.load_csv(write(tmp_path, "", "empty.csv"))
    with pytest.raises(DataError, match="the file is empty"):
        data.load_csv(write(tmp_path, "\n\n", "blank.csv"))
    with pytest.raises(DataError, match="header but no data rows"):
        data.load_csv(write(tmp_path, "date,close\n", "header.csv"))


def test_csv_not_text(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"date,close\n\xff\xfe\x00\x01\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        data.load_csv(path)


def test_csv_directory(tmp_path):
    with pytest.raises(DataError):
        data.load_csv(tmp_path)


# ---------------------------------------------------------------------------
# Legacy pickle
# ---------------------------------------------------------------------------

XLIST = [[1.0, 2.5, 3.0], [2.5, 3.0, 4.25], [3.0, 4.25, 5.0]]
YLIST = [4.25, 5.0, 6.5]


def dump(tmp_path, obj, protocol=pickle.DEFAULT_PROTOCOL, name="stockTT.bin"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("container", [tuple, list])
def test_pickle_round_trip_every_protocol(tmp_path, protocol, container):
    path = dump(tmp_path, container([XLIST, YLIST]), protocol)
    x, y = data.load_legacy_pickle(path)
    assert x.dtype == np.float64 and y.dtype == np.float64
    np.testing.assert_array_equal(x, np.array(XLIST))
    np.testing.assert_array_equal(y, np.array(YLIST))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pickle_accepts_ints_bools_and_tuple_rows(tmp_path, protocol):
    path = dump(tmp_path, ([(1, 2), [True, 3.5]], (7, 8.0)), protocol)
    x, y = data.load_legacy_pickle(path)
    np.testing.assert_array_equal(x, [[1.0, 2.0], [1.0, 3.5]])
    np.testing.assert_array_equal(y, [7.0, 8.0])


def test_tutorial_pairs_survive_a_pickle_round_trip(tmp_path):
    _, prices = data.load_stock("IBM")
    xlist, ylist = data.tutorial_pairs(prices[:50], n_inputs=4)
    x, y = data.load_legacy_pickle(dump(tmp_path, (xlist, ylist), protocol=0))
    assert x.shape == (46, 4)
    np.testing.assert_array_equal(x[0], prices[:4])
    np.testing.assert_array_equal(y, prices[4:50])


def names_globals(path):
    """True if the pickle in ``path`` asks to import something."""
    opcodes = pickletools.genops(path.read_bytes())
    return any(op.name in ("GLOBAL", "STACK_GLOBAL", "INST") for op, _, _ in opcodes)


class WritesFile:
    """Unpickling this with the plain pickle module would create ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class RunsShellCommand:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_malicious_pickle_creating_file_is_refused(tmp_path, protocol):
    target = tmp_path / "pwned.txt"
    path = dump(tmp_path, ([[1.0]], [WritesFile(target)]), protocol)
    # Sanity check: the payload really is dangerous with an ordinary loader.
    assert names_globals(path)
    with pytest.raises(UnsafePickleError) as info:
        data.load_legacy_pickle(path)
    assert not target.exists()
    message = str(info.value)
    assert message.startswith(f"refusing to load {path}: the pickle tries to import ")
    assert f"{open.__module__}.open" in message
    assert "only lists, tuples, ints and floats are allowed" in message


def test_the_malicious_payload_works_with_plain_pickle(tmp_path):
    # Proves the refusal test above is meaningful: plain pickle creates the file.
    target = tmp_path / "created.txt"
    pickle.loads(pickle.dumps(WritesFile(target))).close()
    assert target.exists()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_os_system_pickle_is_refused(tmp_path, protocol):
    target = tmp_path / "shell.txt"
    path = dump(tmp_path, RunsShellCommand(target), protocol)
    with pytest.raises(UnsafePickleError, match=f"import {os.system.__module__}.system;"):
        data.load_legacy_pickle(path)
    assert not target.exists()


def test_numpy_array_pickle_is_refused(tmp_path):
    path = dump(tmp_path, (np.ones((2, 2)), np.ones(2)))
    with pytest.raises(UnsafePickleError, match="numpy"):
        data.load_legacy_pickle(path)


def test_persistent_id_is_refused(tmp_path):
    class WithPersistentIds(pickle.Pickler):
        def persistent_id(self, obj):
            return "external-row" if obj == [9.0] else None

    path = tmp_path / "persistent.bin"
    with open(path, "wb") as handle:
        WithPersistentIds(handle, protocol=2).dump(([[9.0]], [1.0]))
    with pytest.raises(UnsafePickleError, match="persistent id"):
        data.load_legacy_pickle(path)


@pytest.mark.parametrize(
    "obj, pattern",
    [
        ((XLIST[:2] + [[1.0, 2.0]], YLIST), r"xlist\[2\] has 2 values, expected 3"),
        (([[1.0], [2.0, 3.0]], [1.0, 2.0]), r"xlist\[1\] has 2 values, expected 1"),
        ((XLIST[:1] + [[1.0, math.nan, 2.0]] + XLIST[2:], YLIST),
         r"xlist\[1\]\[1\]: nan is not finite"),
        ((XLIST[:2] + [[1.0, 2.0, math.inf]], YLIST), r"xlist\[2\]\[2\]: inf is not finite"),
        (([[1.0, "2.0", 3.0]], [1.0]),
         r"xlist\[0\]\[1\]: '2.0' is a str, expected an int or float"),
        ((XLIST, [1.0, None, 2.0]), r"ylist\[1\]: None is a NoneType"),
        ((XLIST, [1.0, 2.0, -math.inf]), r"ylist\[2\]: -inf is not finite"),
        ((XLIST, YLIST[:2]), "xlist has 3 rows but ylist has 2 values"),
        (([], []), "xlist is empty"),
        (([[]], [1.0]), r"xlist\[0\] is empty"),
        (([[1.0], 2.0], [1.0, 2.0]), r"xlist\[1\] is a float, expected a list"),
        (({"x": 1}, [1.0]), "xlist is a dict, expected a list"),
        (([[1.0]], [[1.0]]), r"ylist\[0\]: \[1.0\] is a list"),
        (([[1.0]], [10**400]), r"ylist\[0\]: .* too large"),
        (([[1.0]], [1.0], [2.0]),
         r"expected a pickled pair \(xlist, ylist\), found a tuple of 3 items"),
        ({"xlist": [], "ylist": []}, r"found a dict"),
        ("text", r"found a str"),
    ],
)
def test_malformed_pickle_content_is_reported(tmp_path, obj, pattern):
    for protocol in (0, pickle.HIGHEST_PROTOCOL):
        path = dump(tmp_path, obj, protocol)
        with pytest.raises(DataError, match=pattern) as info:
            data.load_legacy_pickle(path)
        assert not isinstance(info.value, UnsafePickleError)
        assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "obj, pattern",
    [
        (([[1.0]], {1.0}), "ylist is a set, expected a list"),
        (([[1.0]], [b"1"]), r"ylist\[0\]: b'1' is a bytes"),
        (([[1.0]], [bytearray(b"1")]), r"ylist\[0\]: bytearray\(b'1'\) is a bytearray"),
        (([[1.0]], frozenset([1.0])), "ylist is a frozenset"),
    ],
)
def test_containers_without_globals_in_new_protocols(tmp_path, obj, pattern):
    # Protocol 5 writes these without naming any global, so the unpickler
    # builds them and the structure check must catch them.
    path = dump(tmp_path, obj, protocol=5)
    assert not names_globals(path)
    with pytest.raises(DataError, match=pattern) as info:
        data.load_legacy_pickle(path)
    assert not isinstance(info.value, UnsafePickleError)


def test_self_referencing_pickle_is_rejected(tmp_path):
    row = [1.0]
    row.append(row)
    with pytest.raises(DataError, match=r"xlist\[0\]\[1\]: \[1.0, \[...\]\] is a list"):
        data.load_legacy_pickle(dump(tmp_path, ([row, row], [1.0, 2.0])))
    xlist = [[1.0]]
    xlist.append(xlist)
    with pytest.raises(DataError, match=r"xlist\[1\] has 2 values, expected 1"):
        data.load_legacy_pickle(dump(tmp_path, (xlist, [1.0, 2.0])))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_pickle(tmp_path, protocol):
    payload = pickle.dumps((XLIST, YLIST), protocol=protocol)
    for cut in (1, len(payload) // 2, len(payload) - 1):
        path = tmp_path / "cut.bin"
        path.write_bytes(payload[:cut])
        with pytest.raises(DataError, match="not a valid pickle file"):
            data.load_legacy_pickle(path)


def test_corrupt_missing_and_empty_pickle(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00this is not a pickle at all")
    with pytest.raises(DataError, match="not a valid pickle file"):
        data.load_legacy_pickle(garbage)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        data.load_legacy_pickle(empty)
    with pytest.raises(DataError, match="no such file"):
        data.load_legacy_pickle(tmp_path / "absent.bin")


def test_errors_are_value_errors():
    assert issubclass(DataError, ValueError)
    assert issubclass(UnsafePickleError, DataError)


# ---------------------------------------------------------------------------
# Windows, returns, tutorial pairs
# ---------------------------------------------------------------------------


def test_make_windows_shapes_and_values():
    series = np.arange(10.0)
    X, y = data.make_windows(series, window=3)
    assert X.shape == (7, 3) and y.shape == (7,)
    np.testing.assert_array_equal(X[0], [0, 1, 2])
    np.testing.assert_array_equal(X[-1], [6, 7, 8])
    np.testing.assert_array_equal(y, np.arange(3.0, 10.0))


def test_make_windows_horizon():
    X, y = data.make_windows(list(range(10)), window=3, horizon=4)
    assert X.shape == (4, 3)
    np.testing.assert_array_equal(X[:, -1] + 4, y)


def test_make_windows_output_is_independent_of_input():
    series = np.arange(6.0)
    X, y = data.make_windows(series, 2)
    X[0, 0] = 99.0
    y[0] = 99.0
    assert series[0] == 0.0 and series[2] == 2.0
    assert X[1, 0] == 1.0  # rows are not views of each other


def test_make_windows_exact_minimum_length():
    X, y = data.make_windows([1.0, 2.0, 3.0], window=2)
    assert X.tolist() == [[1.0, 2.0]] and y.tolist() == [3.0]


def test_make_windows_too_short_says_needed_and_present():
    with pytest.raises(DataError, match="need at least 6 points, but it has 5"):
        data.make_windows(np.arange(5.0), window=5)
    with pytest.raises(DataError, match="need at least 7 points, but it has 5"):
        data.make_windows(np.arange(5.0), window=4, horizon=3)


@pytest.mark.parametrize("window", [0, -1, 2.5, True, "3"])
def test_make_windows_bad_window(window):
    with pytest.raises(DataError, match="window must be a positive integer"):
        data.make_windows(np.arange(10.0), window=window)


def test_make_windows_rejects_nan_and_2d():
    with pytest.raises(DataError, match="non-finite.*index 2"):
        data.make_windows([1.0, 2.0, np.nan, 4.0], window=1)
    with pytest.raises(DataError, match="1-dimensional"):
        data.make_windows(np.ones((4, 2)), window=1)


def test_tutorial_pairs_format():
    xlist, ylist = data.tutorial_pairs([10.0, 11.0, 12.0, 13.0, 14.0], n_inputs=3)
    assert xlist == [[10.0, 11.0, 12.0], [11.0, 12.0, 13.0]]
    assert ylist == [13.0, 14.0]
    assert all(type(v) is float for row in xlist for v in row)
    assert all(type(v) is float for v in ylist)
    with pytest.raises(DataError, match="need at least 6 points"):
        data.tutorial_pairs([1.0] * 5)


def test_log_returns_and_back():
    prices = np.array([100.0, 110.0, 99.0, 120.0])
    returns = data.log_returns(prices)
    np.testing.assert_allclose(returns, [math.log(1.1), math.log(0.9), math.log(120 / 99)])
    np.testing.assert_allclose(data.prices_from_returns(prices[0], returns), prices)
    np.testing.assert_allclose(data.one_step_prices(prices[:-1], returns), prices[1:])


def test_returns_round_trip_on_real_data():
    _, prices = data.load_stock("GOOG")
    rebuilt = data.prices_from_returns(prices[0], data.log_returns(prices))
    np.testing.assert_allclose(rebuilt, prices, rtol=1e-9)


def test_one_step_prices_uses_previous_actual_price():
    predicted = data.one_step_prices([100.0, 50.0], [0.0, math.log(2.0)])
    np.testing.assert_allclose(predicted, [100.0, 100.0])


def test_return_errors():
    with pytest.raises(DataError, match=r"prices\[1\] is 0.0"):
        data.log_returns([1.0, 0.0, 2.0])
    with pytest.raises(DataError, match="at least 2 prices, got 1"):
        data.log_returns([5.0])
    with pytest.raises(DataError, match="start_price must be positive"):
        data.prices_from_returns(-1.0, [0.1])
    with pytest.raises(DataError, match="must match"):
        data.one_step_prices([1.0, 2.0], [0.1])


# ---------------------------------------------------------------------------
# Split and standardizer
# ---------------------------------------------------------------------------


def test_chronological_split_default():
    train, val, test = data.chronological_split(100)
    assert (train, val, test) == (slice(0, 70), slice(70, 85), slice(85, 100))


@pytest.mark.parametrize("n", [3, 7, 10, 101, 3270])
def test_chronological_split_covers_everything_in_order(n):
    parts = data.chronological_split(n)
    indices = np.concatenate([np.arange(n)[part] for part in parts])
    np.testing.assert_array_equal(indices, np.arange(n))
    assert all(part.stop > part.start for part in parts)


def test_chronological_split_two_parts():
    assert data.chronological_split(10, (0.8, 0.2)) == (slice(0, 8), slice(8, 10))


@pytest.mark.parametrize("fractions", [(0.5, 0.4), (0.7, 0.4, -0.1), (1.0, 0.0), ()])
def test_chronological_split_bad_fractions(fractions):
    with pytest.raises(DataError, match="fractions must be positive and add up to 1"):
        data.chronological_split(100, fractions)


def test_chronological_split_small_n_gives_every_part_one_item():
    assert data.chronological_split(3) == (slice(0, 1), slice(1, 2), slice(2, 3))
    assert data.chronological_split(4) == (slice(0, 2), slice(2, 3), slice(3, 4))


def test_chronological_split_too_few_items():
    with pytest.raises(DataError, match="2 items cannot be split into 3 non-empty parts"):
        data.chronological_split(2)
    with pytest.raises(DataError, match="n must be a positive integer"):
        data.chronological_split(0)


def test_standardizer_is_fitted_on_train_only():
    series = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    train, _, test = data.chronological_split(len(series), (0.6, 0.2, 0.2))

    def fitted_on(values):
        scaler = data.Standardizer().fit(values[train])
        return scaler.mean_, scaler.scale_, scaler.transform(values[train])

    mean, scale, scaled = fitted_on(series)
    changed = series.copy()
    changed[test] = 1000.0
    mean2, scale2, scaled2 = fitted_on(changed)
    assert mean == mean2 == pytest.approx(3.5)
    assert scale == scale2 == pytest.approx(np.std(series[:6]))
    np.testing.assert_array_equal(scaled, scaled2)


def test_standardizer_transform_and_inverse():
    train = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]])
    scaler = data.Standardizer()
    out = scaler.fit_transform(train)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1.0)
    other = np.array([[7.0, 0.0]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(other)), other)
    std = np.std([1.0, 3.0, 5.0])
    np.testing.assert_allclose(scaler.transform(other), [[(7 - 3) / std, (0 - 30) / (10 * std)]])


def test_standardizer_single_scale_for_windows_and_targets():
    X, y = data.make_windows(np.arange(1.0, 21.0), window=4)
    scaler = data.Standardizer(axis=None).fit(X)
    assert np.ndim(scaler.mean_) == 0
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(y)), y)
    np.testing.assert_allclose(scaler.transform(X)[:, 1:], scaler.transform(X[:, :-1] + 1))


def test_standardizer_zero_std_is_guarded():
    scaler = data.Standardizer().fit(np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 3.0]]))
    out = scaler.transform(np.array([[0.1, 2.0], [1.1, 2.0]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0], atol=1e-12)


def test_standardizer_errors():
    scaler = data.Standardizer()
    with pytest.raises(DataError, match="must be fitted"):
        scaler.transform([1.0])
    with pytest.raises(DataError, match="cannot fit"):
        scaler.fit([])
    with pytest.raises(DataError, match="non-finite"):
        scaler.fit([1.0, np.inf])
    scaler.fit(np.ones((3, 2)))
    with pytest.raises(DataError, match="fitted on 2 columns"):
        scaler.transform(np.ones((3, 3)))
    with pytest.raises(DataError, match="axis must be 0 or None"):
        data.Standardizer(axis=1)


def _nested(depth):
    """Protocol-2 opcodes building ``depth`` nested empty lists (pickle.dumps would recurse too deep)."""
    return b"]" * depth + b"a" * (depth - 1)


@pytest.mark.parametrize("body, message", [
    (_nested(100_000), r"expected a pickled pair \(xlist, ylist\), found a list of 1 item"),
    # ([[deep]], [1.0]): the deep list sits where a price should be
    (b"]]" + _nested(100_000) + b"aa]G?\xf0\x00\x00\x00\x00\x00\x00a\x86",
     r"xlist\[0\]\[0\]: \[\[\.\.\.\]\] is a list, expected an int or float"),
])
def test_deeply_nested_pickle_is_refused_in_one_line(tmp_path, body, message):
    path = tmp_path / "deep.bin"
    path.write_bytes(b"\x80\x02" + body + b".")
    with pytest.raises(DataError, match=message) as info:
        data.load_legacy_pickle(path)
    assert "\n" not in str(info.value) and "recursion" not in str(info.value)


def test_pickle_of_repeated_references_is_bounded(tmp_path):
    """60 kB that expand to 9 million numbers: refused by counting, before any array is built."""
    row = [1.0] * 3000
    path = dump(tmp_path, ([row] * 3000, [1.0] * 3000))
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match="expands to more than 5,000,000 values"):
        data.load_legacy_pickle(path)
    assert data._bounded_size(([[1.0] * 5] * 10, [1.0] * 10), "x") == 1 + 2 + 10 + 50 + 10


def test_pickle_files_above_the_size_limit_are_not_read(tmp_path, monkeypatch):
    path = dump(tmp_path, ([[1.0] * 5] * 100, [1.0] * 100))
    monkeypatch.setattr(data, "MAX_PICKLE_BYTES", 100)
    with pytest.raises(DataError, match=r"the pickle file is \d+ bytes, more than the 100 bytes this program reads"):
        data.load_legacy_pickle(path)
