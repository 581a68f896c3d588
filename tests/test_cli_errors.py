"""A CLI a person can use: each mistake is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from streams.cli import commands as cli
from streams.errors import UserError, warehouse_error_line

SYNTAX_ERROR = ("Code: 62. DB::Exception: Syntax error: failed at position 7 (1) (line 1, col 7): 1\n"
                " SETTINGS readonly = '1'\n FORMAT Native. Expected one of: token sequence, Dot, token, OR, AND, "
                "SETTINGS, end of query. (SYNTAX_ERROR)")


UNSET = ("KAFKA_URL", "NEWSSTREAM_KAFKA_URL", "CLICKHOUSE_URL", "NEWSSTREAM_CLICKHOUSE_URL")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for var in UNSET:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def run_process(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in its own process: chDB allows one data directory per process."""
    base = {k: v for k, v in os.environ.items() if k not in UNSET}
    return subprocess.run([sys.executable, "-m", "streams.cli", *argv], env=base | env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_user_error_is_one_line_and_non_zero(monkeypatch, capsys):
    def boom(args):
        raise UserError("no such file: nosuch.yaml")

    monkeypatch.setattr(cli, "cmd_config", boom)
    code = cli.main(["config"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "newsstream: no such file: nosuch.yaml\n"


def test_a_dictionary_that_is_not_yaml_is_one_line(tmp_path, monkeypatch, capsys):
    """PyYAML's parser error spans four lines (the problem, its place, the context, its place): still one line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("foo: [bar\n")
    monkeypatch.setenv("NEWSSTREAM_ACTORS_PATH", str(bad))
    page = tmp_path / "in.html"
    page.write_text("<html><body><p>x</p></body></html>")
    code = cli.main(["process", str(page), "--out", str(tmp_path / "out.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"newsstream: {bad}: not valid YAML: ")
    assert not (tmp_path / "out.jsonl").exists()


def test_verbose_shows_the_traceback_and_keeps_the_exit_status(monkeypatch, capsys):
    def boom(args):
        raise UserError("no such file: nosuch.yaml")

    monkeypatch.setattr(cli, "cmd_config", boom)
    assert cli.main(["--verbose", "config"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("newsstream: no such file: nosuch.yaml\n")


def test_analyst_sql_on_a_data_directory_with_no_warehouse_says_so_and_creates_nothing(tmp_path, monkeypatch, capsys):
    """A mistyped NEWSSTREAM_DATA_DIR used to get a new empty warehouse and then 'Unknown table'."""
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path / "typo"))
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    assert cli.main(["sql", "SELECT 1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no warehouse in" in err and "newsstream migrate" in err
    assert not (tmp_path / "typo" / "clickhouse").exists()


def test_warehouse_errors_become_one_readable_line():
    assert warehouse_error_line(SYNTAX_ERROR) == ("SYNTAX_ERROR: Syntax error: failed at position 7 (1) "
                                                  "(line 1, col 7): 1")
    assert warehouse_error_line(
        "Code: 60. DB::Exception: Unknown table expression identifier 'nosuch'. In scope SELECT d FROM nosuch "
        "SETTINGS readonly = '1'. (UNKNOWN_TABLE) (version 24.3.1.1 (official build))"
    ) == "UNKNOWN_TABLE: Unknown table expression identifier 'nosuch'"


def test_sql_errors_on_the_embedded_warehouse_are_one_line(tmp_path):
    env = {"NEWSSTREAM_DATA_DIR": str(tmp_path / "data")}
    assert run_process(["migrate"], env, tmp_path).returncode == 0
    bad = run_process(["sql", "SELEC 1"], env, tmp_path)
    assert (bad.returncode, bad.stderr) == (
        2, "newsstream: not a single valid statement: Syntax error: failed at position 7 (1): 1\n")
    unknown = run_process(["sql", "SELECT * FROM nosuch"], env, tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr == ("newsstream: Unknown table expression identifier 'nosuch' "
                              f"(warehouse chdb://{tmp_path / 'data' / 'clickhouse'})\n")


class _WorkerSQL(BaseHTTPRequestHandler):
    """The worker's /sql door answering as it does for bad SQL: 400 with the warehouse's message."""

    def do_GET(self):  # noqa: N802
        body = json.dumps({"error": SYNTAX_ERROR}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_sql_errors_through_the_worker_are_one_line(data_dir, monkeypatch, capsys):
    server = HTTPServer(("127.0.0.1", 0), _WorkerSQL)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        data_dir.mkdir(parents=True)
        (data_dir / "worker.json").write_text(json.dumps(
            {"web_url": f"http://127.0.0.1:{server.server_port}", "pid": os.getpid(), "kafka_url": "kafka://x:1"}))
        code, err = run_cli(["sql", "SELEC 1"], capsys)
    finally:
        server.shutdown()
    assert (code, err) == (2, "newsstream: SYNTAX_ERROR: Syntax error: failed at position 7 (1) (line 1, col 7): 1\n")


def test_unknown_table_points_at_the_demo_data(data_dir, monkeypatch, capsys):
    from streams.settings import Settings

    (data_dir / "demo" / "clickhouse").mkdir(parents=True)
    error = cli._warehouse_error(RuntimeError("Code: 60. DB::Exception: Unknown table expression identifier "
                                              "'mentions_per_actor_week'. (UNKNOWN_TABLE)"), Settings())
    assert str(error) == (
        f"UNKNOWN_TABLE: Unknown table expression identifier 'mentions_per_actor_week' (warehouse "
        f"chdb://{data_dir / 'clickhouse'}; the demo's data is in {data_dir / 'demo'}: "
        f"NEWSSTREAM_DATA_DIR={data_dir / 'demo'} newsstream sql ...)")


def test_a_bad_date_is_a_usage_error(data_dir, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", "--since", "notadate"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("newsstream report: argument --since: not a date (YYYY-MM-DD): 'notadate' "
                                       "(see `newsstream report --help`)\n")


def test_a_cookbook_date_parameter_is_checked(data_dir, capsys):
    code, err = run_cli(["cookbook", "risers_this_week", "--param", "week=notadate"], capsys)
    assert (code, err) == (2, "newsstream: --param week=notadate: not a date (YYYY-MM-DD), e.g. week=2016-11-21\n")
    code, err = run_cli(["cookbook", "risers_this_week", "--param", "week"], capsys)
    assert (code, err) == (2, "newsstream: --param takes NAME=VALUE, got 'week'\n")
    code, err = run_cli(["cookbook", "nosuch"], capsys)
    assert (code, err) == (2, "newsstream: no cookbook query 'nosuch'; `newsstream cookbook` lists them\n")
    # a mistyped optional name was ignored silently: the query ran as if it had not been given
    code, err = run_cli(["cookbook", "risers_this_week", "--param", "week=2016-11-21", "--param", "wek=1"], capsys)
    assert (code, err) == (2, "newsstream: risers_this_week has no parameter 'wek' (it takes: week)\n")
    code, err = run_cli(["cookbook", "co_mentions", "--param", "week=2016-11-21"], capsys)
    assert (code, err) == (2, "newsstream: co_mentions has no parameter 'week' (it takes none)\n")


def test_feed_config_mistakes(data_dir, capsys):
    code, err = run_cli(["feed", "--config", "nosuch.yaml"], capsys)
    assert (code, err) == (2, "newsstream: --config nosuch.yaml: No such file or directory\n")
    Path("bad.yaml").write_text("sources:\n  - {name: a, kind: rss, url: 'https://x.test/feed'}\n")
    code, err = run_cli(["feed", "--config", "bad.yaml"], capsys)
    assert (code, err) == (2, "newsstream: --config bad.yaml: sources.0.kind: Input should be 'feed', 'sitemap' "
                              "or 'urls'\n")
    Path("broken.yaml").write_text("sources: [\n")
    code, err = run_cli(["feed", "--config", "broken.yaml"], capsys)
    assert code == 2 and err.startswith("newsstream: --config broken.yaml: not YAML: ") and err.count("\n") == 1


def test_no_broker(data_dir, capsys):
    message = "newsstream: no broker: set KAFKA_URL or start one with `newsstream run`\n"
    assert run_cli(["reconcile"], capsys) == (2, message)
    assert run_cli(["replay"], capsys) == (2, message)
    Path("page.html").write_text("<html></html>")
    assert run_cli(["ingest", "page.html"], capsys) == (2, message)


def test_a_dry_run_needs_no_broker(data_dir, capsys):
    """`reconcile --dry-run` / `replay --dry-run` only count (archive and ledger): they said "no broker"."""
    code, err = run_cli(["replay", "--dry-run"], capsys)  # a fresh data directory: the ledger is not there yet
    assert code == 2 and err.startswith("newsstream: ") and err.count("\n") == 1
    assert "not created yet: `newsstream migrate`" in err
    assert cli.main(["migrate"]) == 0
    capsys.readouterr()
    for command, field in ((["reconcile", "--dry-run", "--grace", "0"], "missing"),
                           (["replay", "--dry-run"], "selected")):
        assert cli.main(command) == 0
        out = capsys.readouterr()
        assert json.loads(out.out)[field] == 0 and out.err == ""


def test_an_unknown_table_of_the_analysts_own_gets_no_migrate_hint(data_dir, capsys):
    assert cli.main(["migrate"]) == 0
    capsys.readouterr()
    code, err = run_cli(["sql", "SELECT * FROM nosuch_table"], capsys)
    assert code == 2 and "nosuch_table" in err and "migrate" not in err


def test_missing_input_paths_are_usage_errors_not_dead_letters(data_dir, capsys):
    for command in (["ingest", "nosuch_dir"], ["backfill", "nosuch_dir"], ["process", "nosuch_dir", "--out", "-"]):
        assert run_cli(command, capsys) == (2, "newsstream: no such file or folder: nosuch_dir\n")
    assert not data_dir.exists()  # nothing written, no dead letter


def test_output_into_a_missing_folder(data_dir, capsys):
    Path("page.html").write_text("<html></html>")
    assert run_cli(["report", "--out", "/nonexistent/dir/x"], capsys) == (
        2, "newsstream: --out /nonexistent/dir/x: no such folder /nonexistent/dir\n")
    assert run_cli(["process", "page.html", "--out", "/nonexistent/dir/x"], capsys) == (
        2, "newsstream: --out /nonexistent/dir/x: no such folder /nonexistent/dir\n")


def test_a_full_output_disk_is_one_line(data_dir, capsys):
    """--out /dev/full gave a traceback (OSError: No space left on device) from the write loop."""
    import shutil

    from tests.conftest import CORPUS

    shutil.copy(CORPUS / "08-worldwire-lavrov-kerry-en.html", "page.html")
    assert run_cli(["process", "page.html", "--out", "/dev/full"], capsys) == (
        2, "newsstream: --out /dev/full: cannot write: No space left on device\n")


def test_a_bad_setting_names_its_variable(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("NEWSSTREAM_PARTITIONS", "abc")
    assert run_cli(["config"], capsys) == (
        2, "newsstream: NEWSSTREAM_PARTITIONS='abc': Input should be a valid integer, unable to parse string as an "
           "integer\n")
    monkeypatch.delenv("NEWSSTREAM_PARTITIONS")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "")
    monkeypatch.setenv("NEWSSTREAM_SINK", "maybe")
    assert run_cli(["config"], capsys) == (
        2, "newsstream: NEWSSTREAM_SINK='maybe': Input should be a valid boolean, unable to interpret input\n")


def test_migrate_while_a_worker_holds_the_warehouse(data_dir, capsys):
    data_dir.mkdir(parents=True)
    (data_dir / "worker.json").write_text(json.dumps(
        {"web_url": "http://127.0.0.1:6066", "pid": os.getpid(), "kafka_url": "kafka://x:1"}))
    assert run_cli(["migrate"], capsys) == (
        2, f"newsstream: the worker at http://127.0.0.1:6066 holds the embedded warehouse chdb://"
           f"{data_dir / 'clickhouse'} and applied the migrations when it started; stop it to run `migrate` by hand\n")
    assert not (data_dir / "clickhouse").exists()  # chDB was not opened next to the worker


def test_a_broken_pipe_is_quiet(tmp_path):
    reader = subprocess.Popen([sys.executable, "-m", "streams.cli", "actors", "list"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=tmp_path)
    reader.stdout.readline()
    reader.stdout.close()  # `| head -1`
    _, err = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert err == b""


def test_every_command_has_help_and_examples():
    import argparse

    def commands(parser, prefix=""):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, sub in action.choices.items():
                    yield f"{prefix}{name}", helps.get(name), sub
                    yield from commands(sub, f"{prefix}{name} ")

    found = list(commands(cli.build_parser()))
    assert len(found) >= 20
    for name, help_text, sub in found:
        assert help_text, name
        assert sub.epilog and sub.epilog.startswith("examples:\n  newsstream "), name


def test_more_usage_mistakes(data_dir, capsys):
    assert run_cli(["demo", "nosuch"], capsys) == (2, "newsstream: no such file or folder: nosuch\n")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", "--top", "0"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("newsstream report: argument --top: not a positive whole number: '0' "
                                       "(see `newsstream report --help`)\n")
    Path("page.html").write_text("<html></html>")
    assert run_cli(["process", "page.html", "--out", "/proc/x"], capsys) == (
        2, "newsstream: --out /proc/x: No such file or directory\n")
    assert run_cli(["process", "page.html", "--out", "."], capsys) == (
        2, "newsstream: --out . is a folder; give a file name\n")


def test_migrate_while_another_process_holds_chdb(tmp_path):
    data = tmp_path / "data"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom streams.warehouse.client import Warehouse\n"
                               f"w = Warehouse('chdb://{data / 'clickhouse'}').open()\nprint('held', flush=True)\n"
                               "time.sleep(120)"], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert holder.stdout.readline() == "held\n"
        run = run_process(["migrate"], {"NEWSSTREAM_DATA_DIR": str(data)}, tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert run.returncode == 2
    # chDB's engine prints its lock error to fd 2 itself: held back, so ours is the only line
    assert run.stderr.splitlines() == [(
        f"newsstream: another process holds the embedded warehouse chdb://{data / 'clickhouse'} (chDB allows one "
        "process per directory); stop it, or start `newsstream run` so commands go through it")]


def test_unreachable_services_and_a_bad_data_dir(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("CLICKHOUSE_URL", "http://analyst:secret@127.0.0.1:1/db")
    code, err = run_cli(["sql", "SELECT 1"], capsys)
    assert (code, err.splitlines()[-1]) == (
        2, "newsstream: cannot reach the warehouse http://analyst:***@127.0.0.1:1/db: Connection refused")
    assert "secret" not in err
    assert cli.main(["config"]) == 0
    assert "secret" not in capsys.readouterr().out  # the password never printed
    monkeypatch.delenv("CLICKHOUSE_URL")

    monkeypatch.setenv("KAFKA_URL", "kafka://127.0.0.1:1")
    Path("page.html").write_text("<html></html>")
    code, err = run_cli(["ingest", "page.html", "-q"], capsys)
    # a setting to fix, like any user mistake: exit 2, one line (it was exit 1)
    assert code == 2 and err.count("\n") == 1 and err.startswith("newsstream: cannot reach Kafka: "), err
    monkeypatch.delenv("KAFKA_URL")

    Path("a-file").write_text("")
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", "a-file")
    code, err = run_cli(["run"], capsys)
    assert (code, err) == (2, f"newsstream: NEWSSTREAM_DATA_DIR=a-file: {Path('a-file').resolve()} is a file, not a folder\n")


def test_a_zombie_broker_is_not_taken_for_a_running_one(tmp_path):
    """An orphaned broker killed with its `run` can stay a zombie (an init that does not reap): its pid still
    answers signal 0, but the next `run` must start a broker of its own, not connect to the dead one's port."""
    import json
    import subprocess
    import sys
    import time

    from streams.runtime.broker import running_local_broker
    from streams.settings import Settings

    child = subprocess.Popen([sys.executable, "-c", "pass"])  # exits at once; not reaped until wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
        except OSError:
            break
        time.sleep(0.05)
    try:
        (tmp_path / "broker.json").write_text(json.dumps({"pid": child.pid, "url": "kafka://127.0.0.1:1"}))
        assert running_local_broker(Settings(data_dir=tmp_path)) is None
    finally:
        child.wait()


def test_replay_since_and_reconcile_grace_are_checked_before_anything_runs(data_dir, capsys):
    """A bad --since reached the worker's /replay and came back as `worker said 500: Internal Server Error`."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["replay", "--since", "notatime", "--dry-run"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "newsstream replay: argument --since: not a time (ISO 8601, e.g. 2024-05-01T00:00:00): 'notatime' "
        "(see `newsstream replay --help`)\n")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reconcile", "--grace", "-1", "--dry-run"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("newsstream reconcile: argument --grace: the grace must be a number of seconds "
                                       "from 0 to 315360000 (ten years), not -1.0 (see `newsstream reconcile --help`)\n")


def test_replay_refuses_a_since_that_is_not_a_time_before_querying():
    """The worker's /replay calls replay() directly: a bad `since` is a ValueError (HTTP 400), not a warehouse error."""
    import asyncio

    from streams.ops.reconcile import replay
    from streams.settings import Settings

    async def query(sql, parameters=None):
        raise AssertionError("queried the warehouse with a bad since")

    with pytest.raises(ValueError, match="since: not a time"):
        asyncio.run(replay(Settings(), "kafka://127.0.0.1:1", query, since="notatime", dry_run=True))


def test_a_warehouse_url_or_port_that_cannot_work_is_a_bad_setting(data_dir, monkeypatch, capsys):
    """`mysql://x` was taken for HTTP (a driver warning, then 'cannot reach'); `chdb://rel/dir` gave UNKNOWN_DATABASE;
    port 99999 was shown by `config` as if it could be served."""
    monkeypatch.setenv("CLICKHOUSE_URL", "mysql://user:secret@x/db")
    code, err = run_cli(["config"], capsys)
    assert (code, err) == (2, "newsstream: CLICKHOUSE_URL: Value error, scheme 'mysql' is not a warehouse URL: "
                              "http(s)://user:pass@host:8123/db for a server, chdb:///abs/dir for embedded\n")
    assert "secret" not in err
    monkeypatch.setenv("CLICKHOUSE_URL", "chdb://relative/dir")
    assert run_cli(["config"], capsys) == (
        2, "newsstream: CLICKHOUSE_URL: Value error, chdb://relative/dir: an embedded warehouse needs an absolute "
           "folder, chdb:///abs/dir\n")
    monkeypatch.delenv("CLICKHOUSE_URL")
    monkeypatch.setenv("CLICKHOUSE_ANALYST_URL", "ftp://x")
    assert run_cli(["config"], capsys)[0] == 2
    monkeypatch.delenv("CLICKHOUSE_ANALYST_URL")
    monkeypatch.setenv("NEWSSTREAM_WEB_PORT", "99999")
    assert run_cli(["config"], capsys) == (
        2, "newsstream: NEWSSTREAM_WEB_PORT='99999': Input should be less than or equal to 65535\n")
    monkeypatch.setenv("CLICKHOUSE_URL", f"chdb://{data_dir}/clickhouse")
    monkeypatch.setenv("NEWSSTREAM_WEB_PORT", "6066")
    assert run_cli(["config"], capsys)[0] == 0


def test_an_unreachable_kafka_or_warehouse_is_one_line_on_stderr(tmp_path):
    """aiokafka's and clickhouse-connect's own log records ('Unable connect to ...', 'Unexpected Http Driver
    Exception') reached stderr through logging's last-resort handler, above the CLI's one line."""
    (tmp_path / "page.html").write_text("<html></html>")
    env = {"NEWSSTREAM_DATA_DIR": str(tmp_path / "data"), "KAFKA_URL": "kafka://127.0.0.1:1"}
    kafka = run_process(["ingest", "page.html", "-q"], env, tmp_path)
    assert kafka.returncode == 2  # KAFKA_URL is a setting to fix: a user error's exit code
    assert kafka.stderr.splitlines() == [kafka.stderr.strip()] and kafka.stderr.startswith(
        "newsstream: cannot reach Kafka: "), kafka.stderr
    env = {"NEWSSTREAM_DATA_DIR": str(tmp_path / "data"), "CLICKHOUSE_URL": "http://analyst:secret@127.0.0.1:1/db"}
    warehouse = run_process(["sql", "SELECT 1"], env, tmp_path)
    assert (warehouse.returncode, warehouse.stderr) == (
        2, "newsstream: cannot reach the warehouse http://analyst:***@127.0.0.1:1/db: Connection refused\n")


def test_an_unknown_option_points_at_its_own_command_help(data_dir, capsys):
    """`archive verify --dry-run` pointed at `newsstream --help`, the one help page without that command's options."""
    for argv, prog in ((["archive", "verify", "--dry-run"], "newsstream archive verify"),
                       (["sql", "SELECT 1", "--limit", "3"], "newsstream sql"),
                       (["actors", "show", "x", "--all"], "newsstream actors show")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2
        extra = " ".join(argv[argv.index(next(a for a in argv if a.startswith("--"))):])
        assert capsys.readouterr().err == f"{prog}: unrecognized arguments: {extra} (see `{prog} --help`)\n"


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "-inf", "1e999"])
def test_reconcile_refuses_a_grace_that_is_not_a_finite_non_negative_number(value, capsys, tmp_path, monkeypatch):
    """A negative grace would count every page still in flight as lost; nan/inf crashed in timedelta."""
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reconcile", "--grace", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--grace" in err and "Traceback" not in err


def test_reconcile_without_a_broker_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_URL", raising=False)
    assert cli.main(["reconcile", "--grace", "0"]) == 2
    assert capsys.readouterr().err == "newsstream: no broker: set KAFKA_URL or start one with `newsstream run`\n"


def test_an_unknown_option_before_the_command_is_named_not_taken_for_a_missing_command(capsys):
    """`newsstream --nosuch` said 'the following arguments are required: COMMAND'."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--nosuch"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "newsstream: unrecognized arguments: --nosuch (see `newsstream --help`)\n"
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["migrate"], ["demo"], ["run"]])
def test_a_data_dir_that_cannot_be_a_folder_is_one_line(command, capsys, tmp_path, monkeypatch):
    """`NEWSSTREAM_DATA_DIR=/etc/passwd newsstream migrate` (or demo) printed three chained tracebacks."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(a_file))
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsstream: ") and err.count("\n") == 1 and "Traceback" not in err
    assert str(a_file) in err and ("Not a directory" in err or "is a file, not a folder" in err)


def test_replay_refuses_a_stage_no_dead_letter_comes_from(capsys):
    """`replay --stage nosuch --dry-run` answered `selected: 0` and exit 0."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["replay", "--stage", "nosuch", "--dry-run"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("newsstream replay: argument --stage: invalid choice: 'nosuch'") and err.count("\n") == 1


def test_every_stage_that_writes_dead_letters_is_a_replay_choice():
    import re

    from schemas.records import DEAD_LETTER_STAGES
    from tests.conftest import ROOT

    named = set()
    for path in (ROOT / "streams").rglob("*.py"):
        named |= set(re.findall(r'dead_letter\("([a-z_-]+)"', path.read_text()))
    named |= {"clean", "entities", "stories"}  # the stage runner's names (streams/pipeline/topology.py)
    assert named - {"process"} <= set(DEAD_LETTER_STAGES)  # process is offline: its lines, not the topic
