"""The analyst cookbook: named SQL files in schemas/queries/, each opening with what it answers and its params."""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas import SCHEMAS_DIR

QUERIES_DIR = SCHEMAS_DIR / "queries"
_PARAM = re.compile(r"\{(\w+):[^}]+\}")


@dataclass(frozen=True)
class CookbookQuery:
    name: str
    question: str
    sql: str
    example_params: dict[str, str]

    @property
    def params(self) -> list[str]:
        return sorted(set(_PARAM.findall(self.sql)))


def load(path) -> CookbookQuery:
    text = path.read_text("utf-8")
    comments = [line[2:].strip() for line in text.splitlines() if line.startswith("--")]
    examples = {}
    for line in comments:
        if line.startswith("params:"):
            examples = dict(pair.split("=", 1) for pair in line.removeprefix("params:").split())
    question = " ".join(line for line in comments if not line.startswith("params:"))
    return CookbookQuery(path.stem.split("_", 1)[1], question, text, examples)


def queries() -> dict[str, CookbookQuery]:
    return {q.name: q for q in map(load, sorted(QUERIES_DIR.glob("*.sql")))}
