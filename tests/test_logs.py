import logging

import orjson

from streams.runtime.logs import JsonFormatter, logging_config


def test_json_lines_carry_level_logger_extras_and_exceptions():
    formatter = JsonFormatter()
    record = logging.LogRecord("newsstream.sink", logging.WARNING, __file__, 1, "wrote %d rows", (12,), None)
    record.table = "articles"
    line = orjson.loads(formatter.format(record))
    assert line["level"] == "warning" and line["logger"] == "newsstream.sink"
    assert line["msg"] == "wrote 12 rows" and line["table"] == "articles"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in orjson.loads(formatter.format(record))["exc"]


def test_text_format_keeps_fausts_logging():
    assert logging_config("text", "info") is None
    assert logging_config("json", "debug")["root"]["level"] == "DEBUG"
