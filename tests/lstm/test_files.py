"""Tests for lstm.files: what may be read, what may be overwritten, atomic writes and orphaned temp files."""
import argparse
import os
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

import minigraph as theano
from lstm import files
from lstm.checkpoint import checkpoint_output, is_checkpoint, save_checkpoint
from lstm.data import DataError
from lstm.stock import save_figure_atomic


def ckpt(path):
    save_checkpoint(path, [theano.shared(np.zeros(2), name="w")], {"n": 1})
    return path


def test_output_may_not_be_an_input(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("date,close\n")
    with pytest.raises(DataError, match="is also an input"):
        files.check_outputs([checkpoint_output(str(data))], [str(data)])
    link = tmp_path / "alias.npz"
    link.symlink_to(data)
    with pytest.raises(DataError, match="is also an input"):
        files.check_outputs([checkpoint_output(str(link))], [str(data)])
    hard = tmp_path / "hard.npz"
    os.link(data, hard)
    with pytest.raises(DataError, match="is also an input"):
        files.check_outputs([checkpoint_output(str(hard))], [str(data)])
    assert data.read_text() == "date,close\n"


def test_two_outputs_may_not_be_one_file(tmp_path):
    path = str(tmp_path / "same.png")
    with pytest.raises(DataError, match="the checkpoint and the plot are the same file"):
        files.check_outputs([files.Output(path, "plot"), checkpoint_output(path)])
    with pytest.raises(DataError, match="same file"):
        files.check_outputs([files.Output(path, "plot"), files.Output(str(tmp_path / "." / "same.png"), "table")])


def test_existing_files_are_judged_by_content_not_by_extension(tmp_path):
    fake = tmp_path / "model.npz"
    fake.write_bytes(b"PK\x03\x04 a user's zip")
    with pytest.raises(DataError, match="refusing to overwrite .* not a checkpoint this program wrote"):
        files.check_outputs([checkpoint_output(str(fake))])
    other_npz = tmp_path / "arrays.npz"
    np.savez(other_npz, x=np.zeros(3))
    assert not is_checkpoint(str(other_npz))
    with pytest.raises(DataError, match="refusing to overwrite"):
        files.check_outputs([checkpoint_output(str(other_npz))])
    ours = ckpt(tmp_path / "named-like-a-photo.jpg")
    files.check_outputs([checkpoint_output(str(ours))])  # ours, whatever its name
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n someone else's image")
    with pytest.raises(DataError, match="not a plot this program wrote"):
        files.check_outputs([files.Output(str(photo), "plot")])
    for ext in ("png", "svg", "pdf", "eps"):
        plot = str(tmp_path / f"ours.{ext}")
        save_figure_atomic(Figure(figsize=(1, 1)), plot)
        files.check_outputs([files.Output(plot, "plot")])
    assert fake.read_bytes() == b"PK\x03\x04 a user's zip"


def test_non_regular_files_are_refused(tmp_path):
    with pytest.raises(DataError, match="character device, not a regular file"):
        files.check_outputs([checkpoint_output("/dev/null")])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="FIFO"):
        files.check_outputs([files.Output(str(fifo), "plot")])
    with pytest.raises(DataError, match="is a directory"):
        files.check_outputs([files.Output(str(tmp_path), "plot")])
    with pytest.raises(DataError, match="does not exist"):
        files.check_outputs([files.Output(str(tmp_path / "no" / "p.png"), "plot")])


def test_a_symlink_is_written_through_atomically(tmp_path):
    target = ckpt(tmp_path / "real.npz")
    link = tmp_path / "link.npz"
    link.symlink_to("real.npz")
    files.check_outputs([checkpoint_output(str(link))])
    inode = os.stat(target).st_ino
    files.write_atomic(str(link), lambda fh: fh.write(b"new"))
    assert link.is_symlink() and os.readlink(link) == "real.npz"
    assert target.read_bytes() == b"new"
    assert os.stat(target).st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


def test_orphaned_temporary_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    orphan = tmp_path / f".ck.npz.abc123.{pid}.lstm-partial.tmp"
    orphan.write_bytes(b"half")
    live = tmp_path / f".ck.npz.xyz.{os.getpid()}.lstm-partial.tmp"  # a writer still running
    live.write_bytes(b"in progress")
    user = tmp_path / "notes.tmp"  # not ours
    user.write_bytes(b"keep")
    with pytest.warns(files.LeftoverRemoved, match=r"removed .*\.ck\.npz\.abc123\..* left by an interrupted run"):
        removed = files.check_outputs([checkpoint_output(str(tmp_path / "ck.npz"))])
    assert removed == [str(orphan)]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, user.name])


def test_temporary_names_are_recognisable(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    files.write_atomic(str(tmp_path / "x.png"), lambda fh: fh.write(b"1"))
    assert files._PARTIAL_RE.match(seen[0]) and seen[0].startswith(".x.png.")
    assert int(files._PARTIAL_RE.match(seen[0]).group(1)) == os.getpid()


def test_open_input_refuses_what_is_not_a_regular_file(tmp_path):
    with pytest.raises(DataError, match="character device"):
        files.open_input("/dev/zero")
    with pytest.raises(DataError, match="no such file"):
        files.open_input(tmp_path / "absent.csv")
    small = tmp_path / "a.csv"
    small.write_text("x")
    with pytest.raises(DataError, match="is 1 bytes, more than the 0 bytes"):
        files.open_input(small, max_bytes=0)
    with files.open_input(small) as fh:
        assert fh.read() == "x"


@pytest.mark.parametrize("parse, good, bad", [
    (files.seed_int, ["0", "4294967295"], ["-1", "4294967296", "1.5"]),
    (files.finite_float, ["-2.5", "0"], ["nan", "inf", "-inf", "x"]),
    (files.positive_float, ["1e-3"], ["0", "nan", "inf", "-1"]),
    (files.seed_list, ["0,1", "7"], ["0,-1", "", ",", "a"]),
])
def test_command_line_numbers(parse, good, bad):
    for text in good:
        parse(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_check_image_suffix():
    files.check_image_suffix("flow.svg", ("svg", "png"))
    with pytest.raises(DataError, match=r"unknown image format .qqq; use one of .png, .svg"):
        files.check_image_suffix("x.qqq", ("svg", "png"), "diagram")
