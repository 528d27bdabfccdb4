"""Stage cache: a stage's outputs live in a directory named by a hash of everything it depends on.

A stage is done when its `stage.json` exists (written last), so an interrupted stage is
simply recomputed. Changing any config value, seed, input or upstream stage changes the key,
and so does changing the code: every key also holds the secvec version and `code_version()`,
a hash of the source of the packages that compute stages (see there).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import secvec
from secvec.memory import peak_rss

# The packages and modules whose code computes a stage's outputs (training, vectors, judges,
# generation, data, ...). `report`, `serve` and the CLI only read results, so they are left out.
STAGE_CODE = ("training", "vectors", "judges", "eval", "generation", "attacks", "defenses", "data", "recipes",
              "models", "tasks")


def stable_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=64)
def code_version(parts: tuple[str, ...] = STAGE_CODE) -> str:
    """A short hash of the source text of the modules that compute a stage (default `STAGE_CODE`).

    `parts` names packages ("training"), modules ("generation") or files ("recipes/pairs.py")
    under `secvec/`; a stage passes the ones it runs, so an edit to one defense recomputes the
    points that use it, not the aligned model.

    Why: a stage's key otherwise names only its inputs, so after a fix to a judge, a trainer or
    the data code, an old cache would still hand back results the old code computed. Putting
    this hash (and `secvec.__version__`) in every key makes any change to that code recompute
    instead. It is deliberately coarse: one edit anywhere in those packages recomputes every
    stage, which costs time but can never serve a stale result. Computed once per process.
    """
    root = Path(secvec.__file__).parent
    files: list[Path] = []
    for name in parts:
        package, module = root / name, root / (name if name.endswith(".py") else f"{name}.py")
        if package.is_dir():
            files.extend(package.rglob("*.py"))
        elif module.is_file():
            files.append(module)
    digest = hashlib.sha256()
    for f in sorted(files):
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def stage_key(name: str, payload: Any, code: tuple[str, ...] = STAGE_CODE) -> str:
    """`name-<hash>` of the payload plus the secvec version and the version of the stage's code."""
    return f"{name}-{stable_hash({'payload': payload, 'secvec': secvec.__version__, 'code': code_version(code)})}"


@dataclass
class Stage:
    name: str
    key: str
    dir: Path
    code: tuple[str, ...] = STAGE_CODE

    @property
    def done(self) -> bool:
        return (self.dir / "stage.json").exists()

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.dir / "stage.json").read_text()) if self.done else {}


class StageCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def stage(self, name: str, payload: Any, code: tuple[str, ...] = STAGE_CODE) -> Stage:
        key = stage_key(name, payload, code)
        return Stage(name, key, self.root / key, code)

    def lock(self, stage: Stage):
        """An exclusive lock on the stage across processes (see `secvec.locking`)."""
        from secvec.locking import file_lock

        return file_lock(self.root / ".locks" / f"{stage.key}.lock")

    @contextmanager
    def compute(self, stage: Stage, extra: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Run the body in a clean stage dir; on success record timing (+ whatever the body put in the dict)."""
        shutil.rmtree(stage.dir, ignore_errors=True)
        stage.dir.mkdir(parents=True)
        info: dict[str, Any] = {"secvec_version": secvec.__version__, "code_version": code_version(stage.code),
                                **(extra or {})}
        start = time.perf_counter()
        with peak_rss() as peak:
            yield info
        info["seconds"] = time.perf_counter() - start
        info["peak_rss_mb"] = round(peak.rss_mb)
        info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        (stage.dir / "stage.json").write_text(json.dumps(info, indent=1, default=str))
