"""orjson as a Faust codec: topic values are JSON objects, each with `schema_version`."""

from typing import Any

import orjson
from faust.serializers import codecs

CODEC_NAME = "orjson"
UNDECODABLE = "__undecodable__"


class OrjsonCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(self, s: bytes) -> Any:
        # Never raise: Faust would drop the message. A bad payload travels on so the agent dead-letters it.
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            return {UNDECODABLE: s[:2000].decode("utf-8", "replace"), "error": str(exc)}


def register() -> None:
    codecs.register(CODEC_NAME, OrjsonCodec())
