"""Every ```python block in README.md and docs/*.md runs (each in a fresh namespace, in a
temporary directory), so the documentation cannot drift from the code."""
import pathlib
import re

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
NUMPY_ONLY = re.compile(r"^# numpy mode only under ([A-Z, ]+):")  # a block's first line, see docs/backends.md


def _blocks():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            only = NUMPY_ONLY.match(m.group(1))
            marks = [pytest.mark.numpy_only(tuple(b.strip() for b in only.group(1).split(",")))] if only else []
            yield pytest.param(path, m.group(1), id=f"{path.relative_to(ROOT)}:{line}", marks=marks)


@pytest.mark.parametrize("path, code", list(_blocks()))
def test_doc_example_runs(path, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(path), "exec"), {"__name__": "__doc_example__"})


def test_docs_have_examples():
    assert len(list(_blocks())) >= 10
