"""The sink's decode of a poison message: always a sink dead letter, whatever its raw reference holds."""

from __future__ import annotations

import orjson

from schemas.records import DeadLetter
from streams.warehouse.sink import decode


def test_a_malformed_raw_reference_still_gives_a_dead_letter():
    letter = decode("stories", orjson.dumps({"raw": {"topic": 5}}))  # not a RawRef: dropped, not raised
    assert isinstance(letter, DeadLetter) and letter.stage == "sink" and letter.raw is None


def test_a_valid_raw_reference_is_kept_on_the_dead_letter():
    ref = {"topic": "newsstream.raw-html", "partition": 1, "offset": 7}
    for message in ({"raw": ref}, {"article": {"raw": ref}}):
        letter = decode("stories", orjson.dumps(message))
        assert isinstance(letter, DeadLetter) and letter.stage == "sink"
        assert letter.raw is not None and (letter.raw.partition, letter.raw.offset) == (1, 7)
