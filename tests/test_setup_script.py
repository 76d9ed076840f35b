"""scripts/setup.sh announces every step it takes, so a first run is never silent."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("dot") is None, reason="would install graphviz with apt-get")
def test_setup_prints_each_step(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".installed").touch()  # newer than pyproject.toml: nothing to install
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "setup.sh")], capture_output=True, text=True,
                          env=dict(os.environ, VENV=str(venv)), timeout=60)
    assert proc.returncode == 0, proc.stderr
    steps = proc.stderr.splitlines()
    assert steps == ["setup: checking for graphviz (dot), python3 and its venv module",
                     "setup: graphviz and the Python venv module are present",
                     f"setup: virtualenv {venv} exists",
                     f"setup: minigraph is installed in {venv} and up to date",
                     "setup: ready"]
