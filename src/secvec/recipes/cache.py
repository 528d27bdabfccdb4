"""Stage cache: a stage's outputs live in a directory named by a hash of everything it depends on.

A stage is done when its `stage.json` exists (written last), so an interrupted stage is
simply recomputed. Changing any config value, seed, input or upstream stage changes the key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from secvec.memory import peak_rss


def stable_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class Stage:
    name: str
    key: str
    dir: Path

    @property
    def done(self) -> bool:
        return (self.dir / "stage.json").exists()

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.dir / "stage.json").read_text()) if self.done else {}


class StageCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def stage(self, name: str, payload: Any) -> Stage:
        key = f"{name}-{stable_hash(payload)}"
        return Stage(name, key, self.root / key)

    @contextmanager
    def compute(self, stage: Stage, extra: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Run the body in a clean stage dir; on success record timing (+ whatever the body put in the dict)."""
        shutil.rmtree(stage.dir, ignore_errors=True)
        stage.dir.mkdir(parents=True)
        info: dict[str, Any] = dict(extra or {})
        start = time.perf_counter()
        with peak_rss() as peak:
            yield info
        info["seconds"] = time.perf_counter() - start
        info["peak_rss_mb"] = round(peak.rss_mb)
        info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        (stage.dir / "stage.json").write_text(json.dumps(info, indent=1, default=str))
