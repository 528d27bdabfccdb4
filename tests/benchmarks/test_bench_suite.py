"""The benchmark suite runs end to end (`--quick`, tiny model) and records every section.

Not a performance test: the tiny model's timings mean nothing. It checks that the one
documented command still works after library changes and that its JSON has what the README
tables are rendered from.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"
SECTIONS = ("finetune", "active", "generation", "scaling", "multiprocess", "precision")


def _suite():
    spec = importlib.util.spec_from_file_location("secvec_bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tiny_dir: str, out: Path, only: str, monkeypatch) -> dict:
    monkeypatch.setenv("ACCELERATE_USE_CPU", "1")  # the suite sets it; undone after the test
    threads = torch.get_num_threads()
    try:
        # One thread: two OpenMP threads on a busy 2-core machine wait on each other (~50x slower).
        rc = _suite().main(["--model", tiny_dir, "--quick", "--threads", "1", "--only", only, "--output", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0, json.loads(out.read_text()).get("errors")
    return json.loads(out.read_text())


def _numbers(node, path=""):
    if isinstance(node, bool):
        return
    if isinstance(node, (int, float)):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, f"{path}[{i}]")


def test_quick_suite_records_every_section(tiny_dir, tmp_path, monkeypatch):
    res = _run(tiny_dir, tmp_path / "bench.json", "finetune,active,generation,scaling,precision", monkeypatch)
    assert set(SECTIONS) <= set(res["sections"])
    assert res["sections"]["multiprocess"] == {"skipped": "not selected (--only)"}
    for name in set(SECTIONS) - {"multiprocess"}:
        sec = res["sections"][name]
        assert "error" not in sec, sec.get("error")
        for where, x in _numbers(sec):
            # padding counts and the sorted-order saving may be 0 on 8 prompts; timings never are
            if "padd" in where or "saved" in where or "round" in where or "new_tokens" in where:
                assert x >= 0, where
            else:
                assert x > 0 and math.isfinite(x), f"{name}{where} = {x}"
    ratios = res["sections"]["finetune"]["ratios"]
    assert {"full: protected / vanilla", "lora: protected / vanilla", "full: secvec vanilla / Trainer reference",
            "lora: secvec vanilla / Trainer reference"} == set(ratios)
    dtypes = {k: v["runs"][0]["compute_dtypes"] for k, v in res["sections"]["finetune"]["variants"].items()}
    assert all(d == ["bfloat16" if k.endswith("bf16") else "float32"] for k, d in dtypes.items()), dtypes
    assert res["meta"]["machine"]["torch"] == torch.__version__

    from bench_report import render_markdown  # importable once the suite put benchmarks/ on sys.path

    md = render_markdown(res)
    assert "protected / vanilla" in md and "_skipped" in md


@pytest.mark.slow
def test_multiprocess_section_matches_one_process(tiny_dir, tmp_path, monkeypatch):
    """Two real CPU processes (~30 s: three interpreter start-ups); step 1 must be the weighting effect."""
    sec = _run(tiny_dir, tmp_path / "mp.json", "multiprocess", monkeypatch)["sections"]["multiprocess"]
    assert sec["step1"]["explained"], sec["step1"]
    assert sec["within_tolerance"], sec["loss_differences"]
