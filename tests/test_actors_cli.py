"""`newsstream actors ...` and `newsstream reprocess` through the real CLI entry point."""

import json
import subprocess
import sys
import time

import pytest

from streams.pipeline.dictionary import ActorDictionary
from streams.cli import main
from tests.conftest import SMALL_DICTIONARY


@pytest.fixture()
def env(tmp_path, monkeypatch):
    path = tmp_path / "actors.yaml"
    path.write_text(SMALL_DICTIONARY, encoding="utf-8")
    monkeypatch.setenv("NEWSSTREAM_ACTORS_PATH", str(path))
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    return path


def test_add_appends_a_valid_actor_that_matches_without_code_changes(env, capsys):
    assert main(["actors", "add", "--id", "jean-marc-ayrault", "--name", "Jean-Marc Ayrault", "--type", "person",
                 "--country", "FR", "--ar", "جان مارك أيرولت", "--short-ar", "أيرولت", "--en", "Jean-Marc Ayrault"]) == 0
    assert "added jean-marc-ayrault" in capsys.readouterr().out
    assert env.read_text("utf-8").startswith(SMALL_DICTIONARY)  # appended: what was there stays byte for byte
    from streams.pipeline.stages.entities import extract_mentions

    mentions = extract_mentions("وقال أيرولت", ActorDictionary.load(env))
    assert [m.actor_id for m in mentions] == ["jean-marc-ayrault"]
    assert main(["actors", "show", "jean-marc-ayrault"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["aliases"] == {"ar": ["جان مارك أيرولت"], "en": ["Jean-Marc Ayrault"]} and shown["country"] == "FR"


@pytest.mark.parametrize("argv, error", [
    (["--id", "sergey-lavrov", "--name", "X", "--type", "person"], "already exists"),
    (["--id", "x-y", "--name", "X", "--type", "person", "--ar", "سيرغي لافروف"], "already belongs to 'sergey-lavrov'"),
    (["--id", "Not_A_Slug", "--name", "X", "--type", "person"], "lowercase slug"),
])
def test_add_refuses_bad_entries_with_a_clear_error_and_leaves_the_file(env, capsys, argv, error):
    before = env.read_bytes()
    assert main(["actors", "add", *argv]) == 2
    assert error in capsys.readouterr().err
    assert env.read_bytes() == before


def seen_candidate(env, candidate_id: str) -> None:
    """A candidate mention in the (free, embedded) warehouse, as the entities stage writes one."""
    from streams.settings import Settings
    from streams.warehouse.client import connect

    with connect(Settings(_env_file=None, data_dir=env.parent / "data")) as warehouse:
        warehouse.migrate()
        warehouse.client.command("INSERT INTO candidate_mentions (candidate_id, article_id) VALUES ({c:String}, 'a1')",
                                 parameters={"c": candidate_id})


def test_promote_refuses_a_candidate_the_warehouse_never_saw(env, capsys):
    before = env.read_bytes()
    refusal = (
        "newsstream: 'candidate:nosuch person' is neither a candidate nor an entity key in the warehouse "
        f"chdb://{env.parent / 'data' / 'clickhouse'} (`newsstream sql \"SELECT candidate_id FROM candidates "
        "LIMIT 20\"` lists candidates); --force promotes it anyway\n")
    assert main(["actors", "promote", "candidate:nosuch person"]) == 2  # an empty warehouse: no tables yet
    assert capsys.readouterr().err == refusal
    seen_candidate(env, "candidate:someone else")
    assert main(["actors", "promote", "candidate:nosuch person"]) == 2
    assert capsys.readouterr().err == refusal
    assert env.read_bytes() == before, "nothing written"
    assert main(["actors", "promote", "candidate:nosuch person", "--force"]) == 0
    assert "nosuch-person" in ActorDictionary.load(env).actors


def test_promote_turns_a_candidate_into_an_entry_and_list_finds_it(env, capsys):
    seen_candidate(env, "candidate:وليد المعلم")
    assert main(["actors", "promote", "candidate:وليد المعلم"]) == 2
    assert "--name" in capsys.readouterr().err
    assert main(["actors", "promote", "candidate:وليد المعلم", "--name", "Walid Muallem", "--country", "SY",
                 "--en", "Walid Muallem"]) == 0
    actor = ActorDictionary.load(env).actors["walid-muallem"]
    assert actor.aliases == {"ar": ["وليد المعلم"], "en": ["Walid Muallem"]} and actor.short == {"ar": ["المعلم"]}
    assert actor.promoted_from == "candidate:وليد المعلم"
    capsys.readouterr()
    assert main(["actors", "list", "--search", "المعلم"]) == 0
    assert "walid-muallem" in capsys.readouterr().out


def test_reprocess_runs_directly_on_a_free_embedded_warehouse_and_refuses_bad_dates(env, capsys):
    assert main(["reprocess", "--since", "2016-01-01", "--until", "2017-01-01"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["via"] == "direct" and report["articles"] == 0
    assert main(["reprocess", "--since", "yesterday", "--until", "2017-01-01"]) == 2
    assert "not a date" in capsys.readouterr().err


def test_reprocess_on_a_warehouse_held_by_another_process_says_what_to_do(env, tmp_path, capsys):
    directory = tmp_path / "data" / "clickhouse"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, clickhouse_connect\n"
        f"c = clickhouse_connect.get_client(dsn='chdb://{directory}')\n"
        "c.command('SELECT 1'); print('ready', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert main(["reprocess", "--since", "2016-01-01", "--until", "2017-01-01"]) == 2
        err = capsys.readouterr().err
        assert "another process holds the embedded warehouse" in err and "newsstream run" in err
    finally:
        holder.kill()
        holder.wait(10)
        time.sleep(0.1)


def test_add_refuses_to_write_into_an_installed_package(tmp_path, monkeypatch, capsys):
    """After `pip install .` the bundled dictionary sits in site-packages: an addition there dies at the next
    upgrade, so it is refused with the way out (NEWSSTREAM_ACTORS_PATH)."""
    from streams.ops import catalog

    installed = tmp_path / "lib" / "site-packages" / "schemas" / "actors.yaml"
    installed.parent.mkdir(parents=True)
    installed.write_text(SMALL_DICTIONARY, "utf-8")
    monkeypatch.setattr(catalog, "ACTORS_PATH", installed)
    monkeypatch.delenv("NEWSSTREAM_ACTORS_PATH", raising=False)
    monkeypatch.setenv("NEWSSTREAM_DATA_DIR", str(tmp_path / "data"))
    before = installed.read_text("utf-8")
    assert main(["actors", "add", "--id", "new-person", "--name", "New Person", "--type", "person",
                 "--en", "New Person"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "NEWSSTREAM_ACTORS_PATH" in err
    assert installed.read_text("utf-8") == before
