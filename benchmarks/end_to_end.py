"""Whole ``lstm`` commands in numba mode against numpy mode: wall time of each command, run as a user
runs it (a fresh process: imports, compile or disk-cache load, training, evaluation, report).

Rows: ``lstm task adding --length 100 --cell lstm`` and ``lstm stock --tutorial``, each with
``--mode numpy`` and ``--mode numba``; numba twice, first against an empty disk cache (cold: it
compiles) and then against the cache that run filled.  The ratio is numba's wall time over numpy's
in the same run.  Plots are not drawn (``--no-plot``) and nothing is written but the cache, in a
temporary folder.

    python benchmarks/end_to_end.py [--sequences N]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(args, cache):
    env = dict(os.environ, PYTHONPATH=ROOT, MINIGRAPH_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1")
    env.pop("MINIGRAPH_MODE", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lstm"] + args, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"lstm {' '.join(args)} failed:\n{proc.stderr}")
    return wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", type=int, default=None, help="training budget of the task (default: its own)")
    args = ap.parse_args(argv)
    task = ["task", "adding", "--length", "100", "--cell", "lstm", "--quiet"]
    if args.sequences:
        task += ["--sequences", str(args.sequences)]
    commands = [("lstm " + " ".join(task[:6]), task), ("lstm stock --tutorial", ["stock", "--tutorial", "--no-plot"])]
    print("wall seconds per command (fresh process each); ratio = numba / numpy in the same run")
    print(f"{'command':45} {'numpy':>8} {'numba cold':>11} {'numba cached':>13} {'ratio cached':>13}")
    for name, cmd in commands:
        with tempfile.TemporaryDirectory() as cache:
            numpy_s = _run(cmd + ["--mode", "numpy"], cache)
            cold = _run(cmd + ["--mode", "numba"], cache)
            cached = _run(cmd + ["--mode", "numba"], cache)
        print(f"{name:45} {numpy_s:8.1f} {cold:11.1f} {cached:13.1f} {cached / numpy_s:13.2f}", flush=True)


if __name__ == "__main__":
    main()
