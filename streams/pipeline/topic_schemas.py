"""JSON Schema per topic, generated from the record models so the two cannot drift (a test compares)."""

from __future__ import annotations

import json
from pathlib import Path

from schemas import TOPIC_SCHEMAS_DIR
from schemas.records import SCHEMA_VERSION, TOPIC_RECORDS


def topic_schema(topic: str) -> dict:
    schema = TOPIC_RECORDS[topic].model_json_schema(mode="serialization")
    schema["$id"] = f"newsstream/{topic}/v{SCHEMA_VERSION}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(topic: str) -> str:
    return json.dumps(topic_schema(topic), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_topic_schemas(directory: Path = TOPIC_SCHEMAS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for topic in TOPIC_RECORDS:
        path = directory / f"{topic}.v{SCHEMA_VERSION}.schema.json"
        path.write_text(render(topic), encoding="utf-8")
        paths.append(path)
    return paths
