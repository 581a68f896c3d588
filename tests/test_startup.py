"""Start-up costs (issue 18): what the CLI imports before it runs a command, and the per-code-point tables built
at first use, each checked against its plain definition (a faster build must give the identical table)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import get_args

import numpy as np

from streams.pipeline import arabic
from streams.pipeline.ner import model
from streams.pipeline.stages import stories

PLANE = range(0x10000)


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (sys.modules printed one per line)."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_building_the_parser_imports_no_pipeline_and_no_pydantic():
    loaded = _loaded_after("from streams.cli.commands import build_parser\nbuild_parser()")
    heavy = {m for m in loaded if m.split(".")[0] in ("pydantic", "numpy", "trafilatura", "yaml", "faust", "aiokafka")
             or m.startswith(("streams.pipeline", "streams.runtime", "streams.warehouse", "schemas.records"))}
    assert heavy == set()


def test_the_run_supervisor_imports_no_warehouse_client():
    """`newsstream run` imports streams.runtime.worker, then starts the broker and the worker's process: the
    warehouse client (clickhouse_connect) is the worker's, loaded there."""
    loaded = _loaded_after("import streams.runtime.worker")
    assert {m for m in loaded if m.split(".")[0] in ("clickhouse_connect", "chdb", "faust", "aiokafka")} == set()


def test_the_parsers_plain_names_are_the_schemas():
    from schemas import ACTOR_TYPES
    from schemas.records import ActorType

    assert ACTOR_TYPES == get_args(ActorType)


def test_word_table_is_is_word_char_of_every_code_point():
    expected = np.array([arabic.is_word_char(chr(c)) for c in PLANE], dtype=np.uint8)
    assert arabic._word_table().dtype == expected.dtype
    assert np.array_equal(arabic._word_table(), expected)


def test_word_codes_are_the_code_points_the_word_regex_matches():
    expected = np.array([c if stories._WORD_CHAR.match(chr(c)) else 0 for c in PLANE], dtype=np.uint64)
    assert stories._word_codes().dtype == expected.dtype
    assert np.array_equal(stories._word_codes(), expected)


def test_char_classes_are_the_tokenizers_word_and_space_classes():
    expected = np.array([1 if re.match(r"\w", chr(c)) else 2 if re.match(r"\s", chr(c)) else 0 for c in PLANE],
                        dtype=np.uint8)
    assert model._char_classes().dtype == expected.dtype
    assert np.array_equal(model._char_classes(), expected)
