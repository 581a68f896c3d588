"""The one door for analyst SQL (`newsstream sql`, `cookbook`, `report`, the worker's `/sql`).

ClickHouse's own parser decides, on the same connection that runs the query, so the check cannot drift from
the engine (a regex or a third-party grammar can). Three steps:

1. `formatQuery({text:String})` parses the text as one statement (several are refused: chDB would run each
   of them) and prints it back without comments; that canonical text is the only thing checked and run.
2. `EXPLAIN AST <canonical>` gives the parse tree; every node kind, statement kind and function must be on an
   allow-list; `SETTINGS`, `INTO OUTFILE` and `FORMAT` clauses are refused wherever they appear.
3. The statement runs with limits the door sets (time, memory, result rows/bytes, readonly), which the
   query cannot lift since it may not carry settings of its own.

chDB's `readonly=1` does not stop `INTO OUTFILE` nor `file()`: the parse-tree check is what does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from streams.errors import UserError

# Statement kinds (the first word of EXPLAIN AST's top line) that read and nothing else.
READ_STATEMENTS = {
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "ShowTables", "ShowColumns", "DescribeQuery",
    "ShowCreateTableQuery", "ExistsTableQuery", "Explain",
}
# Node kinds a read statement is built from. Anything else is refused (and can be added here once understood).
NODE_KINDS = READ_STATEMENTS | {
    "SelectQuery", "ExpressionList", "Literal", "Function", "Identifier", "Asterisk", "QualifiedAsterisk",
    "ColumnsRegexpMatcher", "ColumnsListMatcher", "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher",
    "ColumnsTransformerList", "ColumnsApplyTransformer", "ColumnsExceptTransformer", "ColumnsReplaceTransformer",
    "ColumnsReplaceTransformerReplacement", "TablesInSelectQuery", "TablesInSelectQueryElement", "TableExpression",
    "TableIdentifier", "TableJoin", "ArrayJoin", "Subquery", "WithElement", "OrderByElement", "InterpolateElement",
    "WindowDefinition", "WindowListElement", "SampleRatio", "Interval",
}
# Table functions that read only what the query itself holds or the warehouse's own tables.
TABLE_FUNCTIONS = {"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "view", "generate_series",
                   "generateSeries", "generateRandom", "merge", "null"}
# Names the parser writes into the tree that are not in system.functions (`x -> x + 1` is `lambda`).
PARSER_FUNCTIONS = {"lambda"}
# Functions that read files, models or dictionaries (whose sources may be files, URLs or other servers),
# or tell about the host. Matched lower-case; names starting with "dict" are refused too.
FORBIDDEN_FUNCTIONS = {
    "file", "fuzzquery", "catboostevaluate", "naivebayesclassifier", "naivebayesclassifierwithprob",
    "naivebayesclassifierwithallprobs", "filesystemavailable", "filesystemcapacity", "filesystemunreserved",
    "getserversetting", "sleep", "sleepeachrow",
}
REFUSED_KINDS = {
    "SystemQuery": "SYSTEM statements are refused", "KillQueryQuery": "KILL is refused",
    "UseQuery": "USE is refused (name the database in the query instead)",
    "Set": "SET is refused: the door sets the session's limits",
}
OUTPUT_FORMAT = "TabSeparatedRaw"  # the format the EXPLAIN AST dump is fetched in (it shows as the last node)
# chDB's `default` database overlays the file system (`SELECT * FROM default.`/etc/passwd``); readonly=1 refuses
# only a file the engine has not opened yet, so the door refuses the database by name (`IN default.x` included).
REFUSED_DATABASES = ("default",)


@dataclass(frozen=True)
class Limits:
    """Per-query limits the door applies; a query may not carry settings, so it cannot raise them."""

    max_execution_seconds: float = 30.0
    max_memory_bytes: int = 1 << 30
    max_result_rows: int = 500_000
    max_result_bytes: int = 128 << 20

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(settings.sql_max_execution_seconds, settings.sql_max_memory_bytes, settings.sql_max_result_rows,
                   settings.sql_max_result_bytes)

    def clickhouse_settings(self) -> dict[str, Any]:
        return {"readonly": 1, "max_execution_time": self.max_execution_seconds,
                "max_memory_usage": self.max_memory_bytes, "max_result_rows": self.max_result_rows,
                "max_result_bytes": self.max_result_bytes, "result_overflow_mode": "break"}


class Answer(NamedTuple):
    columns: list[str]
    rows: list[tuple]
    cut: bool  # the result was longer than max_result_rows / max_result_bytes and was cut


class TextParameter:
    """A parameter value in ClickHouse's text format, as typed after `--param` or sent to /sql (`['a','b']` for an
    Array, `\\N` for NULL): bound server-side as it is, like clickhouse-client's --param_NAME, not escaped again
    as a Python string (which would make every Array or Map parameter unparsable)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:  # clickhouse-connect sends an object it does not know as str(value)
        return self.text


def as_text_parameters(parameters: dict[str, str] | None) -> dict[str, Any] | None:
    return {k: TextParameter(v) if isinstance(v, str) else v for k, v in parameters.items()} if parameters else None


class Refused(UserError):
    """The door refused the statement; the message says why in one line."""


_PLACEHOLDER = re.compile(r"\{\s*(\w+)\s*:\s*([^{}]+?)\s*\}")
_DAY_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?")
_WRAPPERS = re.compile(r"^(?:nullable|lowcardinality)\s*\(\s*(.*)\)$", re.I)
_INTEGER = re.compile(r"^(u?)int(8|16|32|64|128|256)$", re.I)
# The days each type can hold (ClickHouse's documented ranges): past them a value is clamped without a word.
_DAY_RANGES = (("date32", date(1900, 1, 1), date(2299, 12, 31)), ("datetime64", date(1900, 1, 1), date(2299, 12, 31)),
               ("datetime", date(1970, 1, 1), date(2106, 2, 6)), ("date", date(1970, 1, 1), date(2149, 6, 6)))


def _bare_type(type_: str) -> str:
    while (inner := _WRAPPERS.match(type_.strip())) is not None:
        type_ = inner.group(1)
    return type_.strip()


def check_typed_parameters(statement: str, parameters: dict[str, str] | None) -> None:
    """Parameter values ClickHouse would silently turn into other values are refused: a day that does not exist
    (2025-02-30 was answered as 2025-03-02), a time past 23:59:59, a day outside the type's range (clamped), an
    integer outside its type (300 as UInt8 was 44). Dates are checked wherever they sit in the value (arrays,
    maps, tuples), whatever the type's spelling (Date, DATE, LowCardinality(Nullable(Date)), DateTime64(3) ...)."""
    for name, type_ in _PLACEHOLDER.findall(statement):
        value = (parameters or {}).get(name)
        if not isinstance(value, str) or value.strip() == "\\N":
            continue
        bare, lowered = _bare_type(type_), type_.lower()
        if "date" in lowered:
            _check_days(name, value, type_, lowered)
        elif (integer := _INTEGER.match(bare)) is not None:
            bits, signed = int(integer.group(2)), not integer.group(1)
            low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            try:
                number = int(value.strip())
            except ValueError:
                raise Refused(f"parameter {name}={value!r} is not a {bare}") from None
            if not low <= number <= high:
                raise Refused(f"parameter {name}={value!r} is out of {bare}'s range ({low} to {high})")


def _check_days(name: str, value: str, type_: str, lowered: str) -> None:
    found = False
    for match in _DAY_TIME.finditer(value):
        found = True
        year, month, day, hour, minute, second = (int(g) if g is not None else 0 for g in match.groups())
        try:
            when = date(year, month, day)
        except ValueError:
            raise Refused(f"parameter {name}={value!r}: no such day") from None
        if hour > 23 or minute > 59 or second > 59:
            raise Refused(f"parameter {name}={value!r}: no such time of day")
        low, high = next((lo, hi) for key, lo, hi in _DAY_RANGES if key in lowered)
        if not low <= when <= high:
            raise Refused(f"parameter {name}={value!r}: outside {type_.strip()}'s range ({low} to {high})")
    stripped = value.strip()
    if found or stripped.startswith(("[", "(", "{")):  # a container's dates were checked above
        return
    if re.fullmatch(r"\d+(\.\d+)?", stripped) is None:
        raise Refused(f"parameter {name}={value!r} is not a {type_.strip()} (YYYY-MM-DD)")
    if len(stripped) == 8 and "time" not in lowered:  # YYYYMMDD; other digits are a Unix time or a day number
        try:
            date(int(stripped[:4]), int(stripped[4:6]), int(stripped[6:]))
        except ValueError:
            raise Refused(f"parameter {name}={value!r}: no such day") from None


def _line(message: str) -> str:
    return " ".join(str(message).split())[:400]


class SqlDoor:
    """Checks and runs analyst SQL on one clickhouse-connect client (chDB or server)."""

    def __init__(self, client, limits: Limits):
        self.client = client
        self.limits = limits
        self._functions: tuple[set[str], dict[str, str], dict[str, str], set[str], list[str]] | None = None
        self._session_readonly: int | None = None

    # -- the catalogue of functions, read once from the engine itself --------------------------------
    def _catalogue(self):
        if self._functions is None:
            rows = self.client.query(
                "SELECT name, case_insensitive, alias_to, is_aggregate FROM system.functions WHERE origin = 'System'"
            ).result_rows
            exact = {r[0] for r in rows}
            folded = {r[0].lower(): r[0] for r in rows if r[1]}
            alias = {r[0]: r[2] for r in rows if r[2]}
            aggregates = {r[0] for r in rows if r[3]}
            combinators = sorted((r[0] for r in self.client.query(
                "SELECT name FROM system.aggregate_function_combinators").result_rows), key=len, reverse=True)
            self._functions = (exact, folded, alias, aggregates, combinators)
        return self._functions

    def _function_refusal(self, name: str) -> str | None:
        """None when `name` may be called; else the reason."""
        exact, folded, alias, aggregates, combinators = self._catalogue()
        if name in TABLE_FUNCTIONS or name in PARSER_FUNCTIONS:
            return None
        canonical = name if name in exact else folded.get(name.lower())
        if canonical is None:  # an aggregate with combinators: sumIf, uniqMergeState, countOrNullIf ...
            base = name
            while canonical is None:
                suffix = next((c for c in combinators if base.endswith(c) and len(base) > len(c)), None)
                if suffix is None:
                    return f"function {name} is not on the allow-list (table functions allowed: " \
                           f"{', '.join(sorted(TABLE_FUNCTIONS))})"
                base = base[: -len(suffix)]
                canonical = base if base in aggregates else None
        names = {name.lower(), canonical.lower(), alias.get(canonical, canonical).lower()}
        if names & FORBIDDEN_FUNCTIONS or any(n.startswith("dict") for n in names):
            return (f"function {name} is refused "
                    "(it reads files, dictionaries or models, tells about the host, or sleeps)")
        return None

    # -- the check ------------------------------------------------------------------------------------
    def canonical(self, text: str) -> str:
        """The statement as ClickHouse parsed it (one statement, comments dropped), or Refused."""
        if not text.strip():
            raise Refused("empty query")
        try:
            rows = self.client.query("SELECT formatQuery({text:String})", parameters={"text": text}).result_rows
        except Exception as exc:
            raise Refused(f"not a single valid statement: {_clickhouse_message(exc)}") from None
        if len(rows) != 1:  # rows an earlier query left on the connection (see _discard_leftovers): never run them
            raise Refused("the connection returned rows of an earlier query; nothing was run, try again")
        return rows[0][0]

    def check(self, text: str, parameters: dict[str, str] | None = None) -> str:
        """The canonical statement when it passes the door; else Refused with a one-line reason."""
        statement = self.canonical(text)
        check_typed_parameters(statement, parameters)
        first_word = statement.split(None, 1)[0].upper()
        try:
            dump = self.client.raw_query(f"EXPLAIN AST {statement}", parameters=as_text_parameters(parameters),
                                         fmt=OUTPUT_FORMAT).decode()
        except Exception as exc:
            if first_word not in ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "("):
                raise Refused(f"{first_word} statements are refused: only a single read statement "
                              "(SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN, EXISTS) passes") from None
            raise Refused(_clickhouse_message(exc)) from None
        check_tree(dump, self._function_refusal, first_word)
        return statement

    def _settings(self) -> dict[str, Any]:
        """The limits, and readonly=1 unless the server's profile already makes this user read-only (a readonly
        user may not send `readonly` itself)."""
        if self._session_readonly is None:
            self._session_readonly = int(self.client.query("SELECT getSetting('readonly')").result_rows[0][0])
        settings = self.limits.clickhouse_settings()
        if self._session_readonly:
            del settings["readonly"]
        return settings

    def _discard_leftovers(self) -> None:
        """chDB keeps the blocks a failed query had already produced (the first part of a UNION ALL stopped by its
        time limit) and returns them ahead of the next query's rows on that connection, so one analyst could plant
        rows in another's answer, or the statement the door runs next. One throwaway query takes them."""
        try:
            self.client.raw_query("SELECT 1", fmt=OUTPUT_FORMAT)
        except Exception:
            pass

    def run(self, text: str, parameters: dict[str, str] | None = None) -> Answer:
        statement = self.check(text, parameters)
        try:
            result = self.client.query(statement, parameters=as_text_parameters(parameters), settings=self._settings())
        except Exception as exc:
            self._discard_leftovers()
            raise QueryFailed(_clickhouse_message(exc)) from None
        # With result_overflow_mode=break ClickHouse stops only after the block that crossed a limit, and one block
        # can hold a whole short result (1000 rows of 1 MB), so the door counts rows and bytes itself.
        rows: list[tuple[Any, ...]] = []
        size, cut = 0, False
        for row in result.result_rows:
            size += sum(_value_bytes(v) for v in row)
            if len(rows) == self.limits.max_result_rows or size > self.limits.max_result_bytes:
                cut = True
                break
            rows.append(tuple(row))
        return Answer(list(result.column_names) or self._columns_of_empty(statement, parameters), rows, cut)

    def _columns_of_empty(self, statement: str, parameters: dict[str, str] | None) -> list[str]:
        """chDB names no columns for an empty result: the header comes from DESCRIBE of the same checked
        statement, which analyses it without running it."""
        if statement.split(None, 1)[0].upper() not in ("SELECT", "WITH", "("):
            return []
        try:
            described = self.client.query(f"DESCRIBE TABLE ({statement})", parameters=as_text_parameters(parameters),
                                          settings=self._settings())
        except Exception:
            self._discard_leftovers()
            return []
        return [row[0] for row in described.result_rows]


def _value_bytes(value) -> int:
    """About what a value weighs in a result: its length for text and bytes, 8 for a number, date or the like."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return 8 + sum(_value_bytes(v) for v in value)
    if isinstance(value, dict):
        return 8 + sum(_value_bytes(k) + _value_bytes(v) for k, v in value.items())
    return 8


class QueryFailed(UserError):
    """The statement passed the door but ClickHouse stopped it (a limit, an unknown table ...)."""


def _clickhouse_message(exc: Exception) -> str:
    """ClickHouse's reason, without the client's wrapping and the echoed query."""
    text = str(exc)
    if "DB::Exception:" in text:
        text = text.split("DB::Exception:", 1)[1]
    return _line(re.split(r"[:.] In scope", text, maxsplit=1)[0].split("Stack trace", 1)[0])


def check_tree(dump: str, function_refusal, first_word: str = "") -> None:
    """Walk an EXPLAIN AST dump (one node a line, depth = leading spaces) against the allow-lists.

    Identifiers and aliases holding a newline can add fake lines to the dump but never remove real ones,
    so every line is checked: a fake line can only make the door refuse.
    """
    lines = [line for line in dump.splitlines() if line.strip()]
    if not lines:
        raise Refused("empty parse tree")
    top = lines[0].split()[0]
    if top not in READ_STATEMENTS:
        reason = REFUSED_KINDS.get(top) or (f"this {first_word} statement ({top}) is refused" if first_word
                                            else f"{top} is refused")
        raise Refused(f"{reason}: only a single read statement (SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN, "
                      "EXISTS) passes")
    depth1 = [line.split() for line in lines[1:] if len(line) - len(line.lstrip(" ")) == 1]
    if not depth1 or depth1[-1] != ["Identifier", OUTPUT_FORMAT]:
        raise Refused("FORMAT clauses are refused: the door picks the output format")
    stack: list[str] = [top]
    for line in lines[1:]:
        depth = len(line) - len(line.lstrip(" "))
        words = line.split()
        kind = words[0]
        if depth == 0:
            raise Refused("only a single statement passes")
        if kind == "Set":
            raise Refused("SETTINGS clauses are refused: the door sets the limits")
        if kind not in NODE_KINDS:
            raise Refused(f"{kind} (a parse-tree node) is not on the read-only allow-list")
        if kind in ("Identifier", "TableIdentifier") and len(words) > 1 and \
                any(words[1] == db or words[1].startswith(db + ".") for db in REFUSED_DATABASES):
            raise Refused(f"the database {words[1].split('.', 1)[0]} is refused (in chDB it reads the server's files): "
                          "query the warehouse's own tables")
        del stack[depth:]
        parent = stack[-1] if stack else ""
        if kind == "Literal" and parent in READ_STATEMENTS:  # a statement's own literal is its OUTFILE name
            raise Refused("INTO OUTFILE is refused: results go back to you, never to the server's files")
        if kind in READ_STATEMENTS - {"SelectWithUnionQuery", "SelectIntersectExceptQuery"} and depth > 1:
            raise Refused(f"{kind} inside a query is refused")
        if kind == "Function":
            if len(words) < 2:
                raise Refused("unnamed function")
            if reason := function_refusal(words[1]):
                raise Refused(reason)
        stack.append(kind)


class AnalystLane:
    """Analyst queries in their own threads with their own chDB/ClickHouse clients, never in the sink's thread.

    chDB allows many connection handles to its one engine in a process, each with its own lock, so a long
    analyst query and the sink's inserts run side by side. At most `concurrency` run at once; more are refused
    (Busy) rather than queued, so a flood of queries cannot pile up memory in the worker.
    """

    def __init__(self, url: str, limits: Limits, concurrency: int):
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.url = url
        self.limits = limits
        self.concurrency = concurrency
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="analyst")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list = []
        self.running = 0
        self.ready = False  # set by the worker once the warehouse is migrated

    def _door(self) -> SqlDoor:
        door = getattr(self._local, "door", None)
        if door is None:
            from streams.warehouse.client import Warehouse

            warehouse = Warehouse(self.url)
            with self._lock:
                self._clients.append(warehouse)
            door = self._local.door = SqlDoor(warehouse.client, self.limits)
        return door

    async def run(self, text: str, parameters: dict[str, str] | None = None) -> Answer:
        import asyncio

        if self.running >= self.concurrency:
            raise Busy(f"{self.running} analyst queries are running (NEWSSTREAM_SQL_CONCURRENCY={self.concurrency}); "
                       "try again when one finishes")
        self.running += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, lambda: self._door().run(text, parameters))
        finally:
            self.running -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for warehouse in self._clients:
                warehouse.close()
            self._clients.clear()


class Busy(UserError):
    """Every analyst slot is taken."""
