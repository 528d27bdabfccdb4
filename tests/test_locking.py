"""compute_once: two processes that need the same artifact compute it once."""

import multiprocessing as mp
import time
from pathlib import Path

from secvec.locking import compute_once


def _need(root: str) -> str:
    out, log = Path(root) / "artifact.txt", Path(root) / "computed.log"

    def compute() -> str:
        with open(log, "a") as f:
            f.write("x\n")
        time.sleep(0.5)  # long enough that the other process arrives while this one holds the lock
        out.write_text("value")
        return "value"

    return compute_once(Path(root) / "artifact.lock", out.exists, out.read_text, compute)


def test_two_processes_compute_once_and_both_get_the_value(tmp_path):
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map(_need, [str(tmp_path)] * 2)
    assert got == ["value", "value"]
    assert (tmp_path / "computed.log").read_text() == "x\n"
    # done already: read without computing
    assert _need(str(tmp_path)) == "value" and (tmp_path / "computed.log").read_text() == "x\n"
