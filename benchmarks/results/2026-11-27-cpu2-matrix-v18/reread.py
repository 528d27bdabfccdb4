"""Re-read a finished matrix from its cache with the per-source borderline figures (8f34275).

The run used the experiment state's code (dfbe482 + its eval records' `source`), whose point rows
drop `borderline_by_source`. Stage keys hash the source files, not the functions in memory, so
the run's code imports here (PYTHONPATH=<state>/src) and only the row, spread and report
functions come from this checkout: every point is read from the cache, none recomputed.
usage: PYTHONPATH=/tmp/t18/src SECVEC_CACHE=... python reread.py RUN_YAML OUT_DIR [CELL ...]
"""
import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3] / "src" / "secvec"


def load(name, rel):
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


from secvec.recipes import matrix  # noqa: E402  (the run's code)

new_spread, new_report = load("new_spread", "eval/spread.py"), load("new_report", "report/matrix.py")
matrix.point_row, matrix.aggregate = new_spread.point_row, new_spread.aggregate
raw = yaml.safe_load(Path(sys.argv[1]).read_text())
raw["output_dir"] = sys.argv[2]
if sys.argv[3:]:
    raw["only_cells"] = sys.argv[3:]
cfg = matrix.MatrixConfig.model_validate(raw)  # name only finished cells: a point not cached would compute
doc = matrix.run_matrix(cfg)
print(new_report.write_matrix_report(doc, sys.argv[2])["report"])
