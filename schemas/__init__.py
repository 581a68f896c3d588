"""Schemas: the single source of truth for topic records, warehouse DDL and the actor dictionary.

- `schemas.records`: versioned pydantic models of every topic's messages.
- `schemas/topics/*.schema.json`: JSON Schema per topic, generated from the models (`newsstream schemas`).
- `schemas/migrations/*.sql`: ClickHouse DDL, numbered, applied in order at start.
- `schemas/actors.yaml`: the actor dictionary.
"""

from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = SCHEMAS_DIR / "migrations"
TOPIC_SCHEMAS_DIR = SCHEMAS_DIR / "topics"
ACTORS_PATH = SCHEMAS_DIR / "actors.yaml"
