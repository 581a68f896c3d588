"""Schemas are the single source of truth: committed JSON Schemas equal the models' and validate real records."""

import json

import jsonschema
import pytest

from schemas import TOPIC_SCHEMAS_DIR
from schemas.records import SCHEMA_VERSION, TOPIC_RECORDS, RawPage
from streams.pipeline.topic_schemas import render


@pytest.mark.parametrize("topic", list(TOPIC_RECORDS))
def test_committed_json_schema_matches_the_model(topic):
    path = TOPIC_SCHEMAS_DIR / f"{topic}.v{SCHEMA_VERSION}.schema.json"
    assert path.read_text(encoding="utf-8") == render(topic), "run `newsstream schemas` and commit the result"


def test_raw_page_needs_exactly_one_body():
    with pytest.raises(ValueError):
        RawPage(source="x")
    with pytest.raises(ValueError):
        RawPage(source="x", html="<p>", html_b64="PHA+")
    assert RawPage(source="x", html_b64="PHA+").body() == b"<p>"


def test_records_validate_against_their_json_schema():
    page = RawPage(source="x", url="https://e.org/a", html="<p>hi</p>").model_dump(mode="json")
    schema = json.loads((TOPIC_SCHEMAS_DIR / f"raw-html.v{SCHEMA_VERSION}.schema.json").read_text())
    jsonschema.validate(page, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**page, "schema_version": 2}, schema)
