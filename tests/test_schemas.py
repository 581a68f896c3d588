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


def test_unchecked_models_are_the_validated_ones():
    """records.unchecked builds what validation builds from well-typed rows: equal, same hash, same JSON and dump,
    the same fields set, copies with updates, frozen; a record holding them validates and encodes alike."""
    from pydantic import ValidationError

    from schemas.records import Entity, Mention, unchecked

    mention = {"actor_id": "sergey-lavrov", "name": "Sergey Lavrov", "type": "person", "surface": "لافروف",
               "start": 3, "end": 9}
    entity = {"type": "person", "surface": "لافروف", "start": 3, "end": 9, "key": "لافروف",
              "actor_id": "sergey-lavrov"}
    for model, row in ((Mention, mention), (Entity, entity)):
        (built,) = unchecked(model, [dict(row)])
        validated = model(**row)
        assert type(built) is model and built == validated and hash(built) == hash(validated)
        assert built.model_dump() == validated.model_dump()
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.model_fields_set == validated.model_fields_set == set(model.model_fields)
        assert repr(built) == repr(validated)
        copy = built.model_copy(update={"start": 4})
        assert copy.start == 4 and built.start == 3 and copy.model_fields_set == set(model.model_fields)
        with pytest.raises(ValidationError):
            built.start = 5  # frozen, as validated ones
        assert model.model_validate(built.model_dump()) == built
