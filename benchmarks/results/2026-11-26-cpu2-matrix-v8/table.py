"""The v8 (anchor on safe answers) and v9 (anchor on the whole alignment set, safety-mix; run-b:
the same anchor on the poison and drift cells; run-c: on the LoRA and Nova cells) rows as
one markdown table: 3-seed mean (min-max) of harmful / borderline / plain benign over-refusal
(/ task accuracy), then each cell's verdict. Run from this folder with the project's Python:
PYTHONPATH=../.. ../../../.venv/bin/python table.py > table.md"""
from pathlib import Path

from merge_matrix import compact_table, merge

v9 = "../2026-11-26-cpu2-matrix-v9/"
print(compact_table(merge([Path(p) for p in ("run/results.json", v9 + "run/results.json", v9 + "run-b/results.json",
                                               v9 + "run-c/results.json")])))
