"""Near-duplicate stories across two workers and a worker death, on the real local broker (Tansu) and chDB.

Worker A holds the embedded warehouse (the sink); worker B runs with NEWSSTREAM_SINK=false (chDB allows one
process per directory) and reads the warehouse through A's /sql. Copies of three stories arrive on four raw
partitions in two rounds; between them the worker owning the single entities partition (the story index) is
killed and restarted, so round two is matched against an index rebuilt elsewhere.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from streams.runtime.broker import LocalBroker, free_port
from streams.cli.demo import wait_for_outcomes
from streams.inputs.ingest import ingest
from tests.worker_calls import query_worker
from streams.settings import Settings
from streams.runtime.webauth import server_token
from tests.test_stories import OTHER, THIRD, WIRE

pytestmark = pytest.mark.integration


def page(doc, title=None, body=None, published="2016-11-24T15:32:00+03:00"):
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in (body if body is not None else doc["body"]))
    title = html.escape(title or doc["title"])
    return (f'<html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="article:published_time" content="{published}"></head>'
            f"<body><nav><a href='/'>الرئيسية</a></nav><article><h1>{title}</h1>{paragraphs}</article>"
            "<footer>جميع الحقوق محفوظة</footer></body></html>")


W, O = WIRE["body"], OTHER["body"]
# (url, story, html): round one founds the stories; round two only has copies.
ROUND_ONE = [
    ("https://arabic.rt.example/news/1-lavrov", "wire", page(WIRE)),
    ("https://arabic.rt.example/news/2-mistura", "other", page(OTHER)),
    ("https://alkhabar.example/p/3", "third", page(THIRD)),
]
ROUND_TWO = [
    ("https://alwatan.example/2016/11/24/lavrov?utm_source=fb", "wire",
     page(WIRE, body=["موسكو - (وكالات) - " + W[0], *W[1:], "المصدر: وكالات"])),
    ("https://sawt.example/news/55120", "wire",
     page(WIRE, title="لافروف يحذر الغرب", body=[p.replace("سيرغي", "سيرجي") for p in W[:-1]])),
    ("https://sana.example/ar/?p=777", "wire", page(WIRE, body=W[:3] + W[4:])),
    ("https://annahar.example/arabic/news/world/9", "other", page(OTHER, body=O[:-1] + ["المصدر: RT"])),
]


def write_jsonl(path, docs):
    path.write_text("".join(json.dumps({"url": u, "html": h}, ensure_ascii=False) + "\n" for u, _, h in docs),
                    encoding="utf-8")
    return path


def start_worker(data, broker_url, port, sink, name):
    env = os.environ | {"KAFKA_URL": broker_url, "NEWSSTREAM_DATA_DIR": str(data), "NEWSSTREAM_WEB_PORT": str(port),
                        "NEWSSTREAM_SINK": "true" if sink else "false", "NEWSSTREAM_SINK_FLUSH_SECONDS": "0.5",
                        "NEWSSTREAM_GROUP_SESSION_TIMEOUT": "6"}
    env.pop("CLICKHOUSE_URL", None)
    log = open(data / f"{name}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=env, stdout=log,
                            stderr=subprocess.STDOUT), log


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


def index_owner(ports, timeout=120):
    """The worker whose story index is ready: the one holding the entities partition."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owners = [name for name, port in ports.items() if (health(port) or {}).get("story_index_ready")]
        if len(owners) == 1:
            return owners[0]
        time.sleep(0.5)
    raise TimeoutError("no single worker holds the story index")


def test_copies_across_partitions_and_a_worker_death_join_the_right_story(tmp_path):
    data = tmp_path / "stack"
    data.mkdir()
    ports = {"A": free_port(), "B": free_port()}
    with LocalBroker(data) as broker:
        settings = Settings(kafka_url=broker.url, data_dir=data, web_port=ports["A"])
        workers = {"A": start_worker(data, broker.url, ports["A"], True, "A"),
                   "B": start_worker(data, broker.url, ports["B"], False, "B")}
        web = f"http://newsstream:{server_token(settings)}@127.0.0.1:{ports['A']}"
        try:
            sent = asyncio.run(ingest([write_jsonl(tmp_path / "one.jsonl", ROUND_ONE)], settings, broker.url,
                                      progress=False)).sent
            wait_for_outcomes(web, sent, 0, timeout=240)

            victim = index_owner(ports)
            process, log = workers[victim]
            process.send_signal(signal.SIGKILL)  # a worker dies: the index partition moves to the survivor
            process.wait(30)
            log.close()
            if victim == "A":
                # the warehouse holder died: B rebuilds through A's /sql once A is back
                workers["A"] = start_worker(data, broker.url, ports["A"], True, "A")
            sent += asyncio.run(ingest([write_jsonl(tmp_path / "two.jsonl", ROUND_TWO)], settings, broker.url,
                                       progress=False)).sent
            if victim == "B":
                workers["B"] = start_worker(data, broker.url, ports["B"], False, "B")
            wait_for_outcomes(web, sent, 0, timeout=300)

            _, rows = query_worker(web, "SELECT url, article_id, story_id, duplicate_of, raw_partition "
                                        "FROM articles FINAL")
        except BaseException:
            for name in workers:
                print(f"--- worker {name} log (tail)\n" + (data / f"{name}.log").read_text()[-4000:])
            raise
        finally:
            for process, log in workers.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                log.close()

    story_of = {u: s for u, s, _ in ROUND_ONE + ROUND_TWO}
    by_url = {}
    for url, article_id, story_id, duplicate_of, partition in rows:
        key = next(u for u in story_of if url and url.split("?")[0].rstrip("/") == u.split("?")[0].rstrip("/"))
        by_url[key] = (article_id, story_id, duplicate_of, partition)
    assert set(by_url) == set(story_of), "every page became an article"
    assert len({p for *_, p in by_url.values()}) >= 2, "the copies arrived on more than one raw partition"
    founders = {story_of[u]: by_url[u][0] for u, *_ in ROUND_ONE}
    for url, (article_id, story_id, duplicate_of, _) in by_url.items():
        assert story_id == founders[story_of[url]], url
        assert (duplicate_of is None) == (article_id == story_id), url


def test_unsunk_stories_are_the_records_past_the_sinks_committed_offsets(tmp_path):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from streams.runtime.broker import bootstrap_servers
    from streams.runtime.kafka import KafkaClients
    from streams.runtime.story_index_loader import unsunk_stories
    from streams.settings import Settings

    async def scenario(bootstrap):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        for partition in (0, 1):
            for i in range(4):
                await producer.send_and_wait("t.stories", f"{partition}-{i}".encode(), partition=partition)
        await producer.stop()
        sink = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="app-sink", enable_auto_commit=False)
        await sink.start()
        sink.assign([TopicPartition("t.stories", 0), TopicPartition("t.stories", 1)])
        await sink.commit({TopicPartition("t.stories", 0): 3})  # the sink wrote 0-0..0-2; nothing of partition 1
        await sink.stop()
        return await unsunk_stories(KafkaClients(Settings(_env_file=None, app_id="app"), broker.url), "t.stories", 2)

    with LocalBroker(tmp_path) as broker:
        pending = asyncio.run(scenario(bootstrap_servers(broker.url)))
    assert sorted(pending) == [b"0-3", b"1-0", b"1-1", b"1-2", b"1-3"]


def test_unsunk_stories_read_past_an_end_offset_that_stops_at_the_last_batch(tmp_path):
    """Records sent in one batch: the local broker reports the partition's end as the batch's first offset + 1, so
    reading only up to the end offsets would miss the rest; the reader goes on until a fetch finds nothing."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from streams.runtime.broker import bootstrap_servers
    from streams.runtime.kafka import KafkaClients
    from streams.runtime.story_index_loader import unsunk_stories
    from streams.settings import Settings

    async def scenario(bootstrap):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200)
        await producer.start()
        await producer.send_and_wait("t.stories", b"0-0", partition=0)
        sent = [await producer.send("t.stories", f"0-{i}".encode(), partition=0) for i in range(1, 7)]
        await asyncio.gather(*sent)  # one batch: 0-1 .. 0-6
        await producer.stop()
        sink = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="app-sink", enable_auto_commit=False)
        await sink.start()
        sink.assign([TopicPartition("t.stories", 0), TopicPartition("t.stories", 1)])
        await sink.commit({TopicPartition("t.stories", 0): 3})  # the sink wrote 0-0..0-2
        await sink.stop()
        return await unsunk_stories(KafkaClients(Settings(_env_file=None, app_id="app"), broker.url), "t.stories", 2)

    with LocalBroker(tmp_path) as broker:
        pending = asyncio.run(scenario(bootstrap_servers(broker.url)))
    assert pending == [b"0-3", b"0-4", b"0-5", b"0-6"]
