"""Schemas: the single source of truth for topic records, warehouse DDL and the actor dictionary.

- `schemas.records`: versioned pydantic models of every topic's messages.
- `schemas/topics/*.schema.json`: JSON Schema per topic, generated from the models (`newsstream schemas`).
- `schemas/migrations/*.sql`: ClickHouse DDL, numbered, applied in order at start.
- `schemas/actors.yaml` and `schemas/actors/*.yaml`: the actor dictionary, one format in several reviewable
  files (docs/actors.md).
"""

from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = SCHEMAS_DIR / "migrations"
TOPIC_SCHEMAS_DIR = SCHEMAS_DIR / "topics"
ACTORS_PATH = SCHEMAS_DIR / "actors.yaml"  # the first file, and where `actors add` writes by default
ACTORS_DIR = SCHEMAS_DIR / "actors"  # more dictionary files, by region or source: each {actors: [...]}

# Plain names the CLI's parser offers as choices, here so that building the parser imports neither pydantic
# (schemas.records) nor the dictionary's loader; records.py and the dictionary import them from here.
ACTOR_TYPES = ("person", "organization", "location", "other")  # = schemas.records.ActorType (a test checks)
LANGUAGES = ("ar", "en", "ru", "fr")  # the languages of a dictionary entry's aliases
# Where a dead letter can come from: the entry points, the archive's re-send, each stage, the sink.
DEAD_LETTER_STAGES = ("ingest", "feed", "archive", "clean", "entities", "stories", "sink")
