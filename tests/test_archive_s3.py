"""The raw archive in an S3-compatible bucket: a real local S3 server (moto's server mode, over HTTP) holds the
segments; the product code talks to it with boto3 as it would to MinIO or AWS. Writers write the open segment in the
archive directory and upload it when it closes; a killed writer's segment is uploaded by the next writer, reconcile
or `archive upload`; list, verify, prune, reconcile and re-send read the bucket."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import boto3
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams.inputs import archive
from streams.ops.reconcile import reconcile
from streams.runtime.broker import LocalBroker, bootstrap_servers
from streams.settings import Settings
from tests.test_archive import page

moto_server = pytest.importorskip("moto.server", reason="moto[server] (a test dependency) runs the local S3 server")
BUCKET = "newsstream-archive"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, tmp_path):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
    name = f"{BUCKET}-{tmp_path.name.lower().replace('_', '-')}"[:63].rstrip("-")
    client.create_bucket(Bucket=name)
    return client, name


def s3_settings(tmp_path, s3_endpoint, name, **extra) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, archive_s3_bucket=name, archive_s3_endpoint=s3_endpoint,
                    archive_s3_prefix="raw/archive", **extra)


def keys(client, name) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", []))


def test_segments_go_to_the_bucket_and_pages_come_back_from_it(tmp_path, s3_endpoint, bucket):
    client, name = bucket
    settings = s3_settings(tmp_path, s3_endpoint, name, archive_segment_bytes=1)
    pages = [page(i, text=i % 2 == 0) for i in range(4)]
    with archive.writer_for(settings) as writer:
        written = [writer.append(p) for p in pages]
    assert list(settings.archive_path.glob("*.warc.gz")) == [], "uploaded segments leave the archive directory"
    assert len(keys(client, name)) == 8 and all(k.startswith("raw/archive/") for k in keys(client, name))
    store = archive.archive_for(settings)
    assert [e.page_id for e in archive.entries(store)] == [p.page_id for p in pages]
    for entry, original in zip(written, pages, strict=True):
        assert archive.read_page(store, entry) == original
    assert archive.verify(store).ok
    assert {i.where for i in archive.list_segments(store)} == {"bucket"}


def test_a_killed_writers_segment_is_seen_then_uploaded_by_reconcile(tmp_path, s3_endpoint, bucket):
    """SIGKILL of a writer with its segment open: the pages are in the archive directory (written before they were
    produced); reconcile sees them, uploads the orphaned segment, and counts them as missing."""
    client, name = bucket
    settings = s3_settings(tmp_path, s3_endpoint, name)
    child = textwrap.dedent(f"""
        import sys, time
        from streams.inputs import archive
        from streams.settings import Settings
        from tests.test_archive import page
        settings = Settings(_env_file=None, data_dir={str(tmp_path)!r}, archive_s3_bucket={name!r},
                            archive_s3_endpoint={s3_endpoint!r}, archive_s3_prefix="raw/archive")
        writer = archive.writer_for(settings)
        for i in range(3):
            writer.append(page(i))
        print("written", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True,
                            env=os.environ | CREDENTIALS, cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert proc.stdout.readline().strip() == "written"
        store = archive.archive_for(settings)
        assert store.upload_pending() == [], "a live writer's segment is not uploaded under its feet"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert keys(client, name) == []
    assert [i.where for i in archive.list_segments(store)] == ["local"]

    async def nothing_landed(sql, params=None):
        return []

    report = asyncio.run(reconcile(settings, "kafka://127.0.0.1:1", nothing_landed, grace_seconds=0, dry_run=True))
    assert report.uploaded == 1 and report.missing == 3 and report.archived == 3
    assert list(settings.archive_path.glob("*.warc.gz")) == [] and len(keys(client, name)) == 2
    assert [i.where for i in archive.list_segments(store)] == ["bucket"]


def test_a_bucket_that_is_down_keeps_the_segment_locally_until_archive_upload(tmp_path, s3_endpoint, bucket):
    client, name = bucket
    down = s3_settings(tmp_path, "http://127.0.0.1:9", name)  # nothing listens on the discard port
    with archive.writer_for(down) as writer:
        writer.append(page(1))
    assert len(list(down.archive_path.glob("*.warc.gz"))) == 1, "a failed upload keeps the segment"
    env = os.environ | CREDENTIALS | {"NEWSSTREAM_DATA_DIR": str(tmp_path), "NEWSSTREAM_ARCHIVE_S3_BUCKET": name,
                                      "NEWSSTREAM_ARCHIVE_S3_ENDPOINT": s3_endpoint,
                                      "NEWSSTREAM_ARCHIVE_S3_PREFIX": "raw/archive"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "streams.cli", "archive", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    done = cli("upload")
    assert done.returncode == 0 and "1 segments uploaded" in done.stdout, done.stdout + done.stderr
    assert list(down.archive_path.glob("*.warc.gz")) == [] and len(keys(client, name)) == 2
    listed = cli("list")
    assert listed.returncode == 0 and "1 pages" in listed.stdout and "\tbucket" in listed.stdout, listed.stdout
    assert cli("verify").returncode == 0
    # an endpoint that does not answer: one line naming the bucket, exit 2, no traceback
    unreachable = subprocess.run([sys.executable, "-m", "streams.cli", "archive", "list"], capture_output=True,
                                 text=True, env=env | {"NEWSSTREAM_ARCHIVE_S3_ENDPOINT": "http://127.0.0.1:9"},
                                 timeout=120)
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1 and "archive bucket" in unreachable.stderr


def test_verify_reports_a_garbled_index_in_the_bucket_and_no_page_is_hidden(tmp_path, s3_endpoint, bucket):
    client, name = bucket
    settings = s3_settings(tmp_path, s3_endpoint, name)
    with archive.writer_for(settings) as writer:
        written = [writer.append(page(i)) for i in range(3)]
    key = f"raw/archive/{written[0].segment}.idx"
    lines = client.get_object(Bucket=name, Key=key)["Body"].read().splitlines()
    lines[1] = b'{"page_id": 17, "off\xff'
    client.put_object(Bucket=name, Key=key, Body=b"\n".join(lines) + b"\n")
    store = archive.archive_for(settings)
    assert [e.page_id for e in archive.entries(store)] == [p.page_id for p in map(page, range(3))]
    report = archive.verify(store)
    assert not report.ok and any("index line 2 garbled" in p for p in report.problems), report.problems


def test_prune_deletes_old_segments_from_the_bucket(tmp_path, s3_endpoint, bucket):
    client, name = bucket
    settings = s3_settings(tmp_path, s3_endpoint, name, archive_segment_bytes=1)
    now = datetime.now(UTC)
    with archive.writer_for(settings) as writer:
        writer.append(page(1), entered_at=now - timedelta(days=40))
        kept = writer.append(page(2), entered_at=now - timedelta(days=5))
    store = archive.archive_for(settings)
    assert len(archive.prune(store, 30)) == 1
    assert keys(client, name) == sorted(f"raw/archive/{kept.segment}{s}" for s in (".idx", ".warc.gz"))


@pytest.mark.integration
def test_reconcile_resends_pages_from_the_bucket_to_the_broker(tmp_path, s3_endpoint, bucket):
    """The broker never saw these pages (lost with it): reconcile reads them from the bucket and produces them."""
    client, name = bucket
    with LocalBroker(tmp_path) as broker:
        settings = s3_settings(tmp_path, s3_endpoint, name, kafka_url=broker.url)
        pages = [page(i) for i in range(5)]
        with archive.writer_for(settings) as writer:
            for p in pages:
                writer.append(p)
        assert list(settings.archive_path.glob("*.warc.gz")) == []

        async def scenario() -> list[str]:
            async def nothing_landed(sql, params=None):
                return []

            report = await reconcile(settings, broker.url, nothing_landed, grace_seconds=0)
            assert report.resent == 5 and report.dead_lettered == 0
            consumer = AIOKafkaConsumer(settings.topic("raw-html"), bootstrap_servers=bootstrap_servers(broker.url),
                                        auto_offset_reset="earliest", enable_auto_commit=False)
            await consumer.start()
            try:
                got = []
                deadline = asyncio.get_running_loop().time() + 60
                while len(got) < 5 and asyncio.get_running_loop().time() < deadline:
                    for records in (await consumer.getmany(timeout_ms=1000)).values():
                        got += [orjson.loads(r.value)["page_id"] for r in records]
                return got
            finally:
                await consumer.stop()

        assert sorted(asyncio.run(scenario())) == sorted(p.page_id for p in pages)


def test_bad_s3_settings_are_one_line(tmp_path):
    env = os.environ | {"NEWSSTREAM_DATA_DIR": str(tmp_path), "NEWSSTREAM_ARCHIVE_S3_ENDPOINT": "minio:9000"}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "archive", "list"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "NEWSSTREAM_ARCHIVE_S3_ENDPOINT" in done.stderr
    done = subprocess.run([sys.executable, "-m", "streams.cli", "archive", "list"], capture_output=True, text=True,
                          env=env | {"NEWSSTREAM_ARCHIVE_S3_ENDPOINT": "",
                                     "NEWSSTREAM_ARCHIVE_S3_BUCKET": "Bad_Bucket"},
                          timeout=60)
    assert done.returncode == 2 and "NEWSSTREAM_ARCHIVE_S3_BUCKET" in done.stderr, done.stderr


def test_compose_gives_every_archive_writer_the_same_bucket_settings():
    import yaml

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docker-compose.yml")) as f:
        services = yaml.safe_load(f)["services"]
    known = Settings.env_vars()
    writers = [n for n, s in services.items() if "NEWSSTREAM_ARCHIVE_DIR" in s.get("environment", {})]
    assert {"worker", "feeder", "ingest-samples"} <= set(writers)
    for name in writers:
        env = services[name]["environment"]
        s3 = {k for k in env if k.startswith("NEWSSTREAM_ARCHIVE_S3_")}
        assert s3 == {"NEWSSTREAM_ARCHIVE_S3_BUCKET", "NEWSSTREAM_ARCHIVE_S3_ENDPOINT", "NEWSSTREAM_ARCHIVE_S3_PREFIX"}
        assert s3 <= set(known) and {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env), name
    assert services["minio"]["profiles"] == ["minio"] and "ports" not in services["minio"]
    # compose passes an unset variable as "": that is no bucket, not a bad one
    assert Settings(_env_file=None, archive_s3_bucket="", archive_s3_endpoint="").archive_s3_bucket is None


def test_an_index_replaced_in_the_bucket_is_read_again(tmp_path, s3_endpoint, bucket):
    """Reconcile reads every index each tick, so bucket indexes are cached by ETag: a changed one is not stale."""
    client, name = bucket
    settings = s3_settings(tmp_path, s3_endpoint, name)
    with archive.writer_for(settings) as writer:
        written = [writer.append(page(i)) for i in range(2)]
    store = archive.archive_for(settings)
    assert len(list(archive.entries(store))) == 2
    key = f"raw/archive/{written[0].segment}.idx"
    first_line = client.get_object(Bucket=name, Key=key)["Body"].read().splitlines()[0]
    client.put_object(Bucket=name, Key=key, Body=first_line + b"\nnot json\n")
    problems: list[str] = []
    assert len(list(archive.entries(store, problems=problems))) == 2 and problems, "read again, rebuilt from the segment"
    client.delete_object(Bucket=name, Key=key)
    problems = []
    assert len(list(archive.entries(store, problems=problems))) == 2 and "no index" in problems[0]


def test_a_bucket_that_does_not_exist_keeps_the_segment_locally_without_a_traceback(tmp_path, s3_endpoint, bucket):
    """upload_file wraps NoSuchBucket in S3UploadFailedError, which escaped the writer: ingest died mid-way."""
    missing = s3_settings(tmp_path, s3_endpoint, "nosuchbucket-newsstream")
    with archive.writer_for(missing) as writer:
        writer.append(page(1))
    assert len(list(missing.archive_path.glob("*.warc.gz"))) == 1, "a refused upload keeps the segment"


def test_the_bucket_timeout_is_a_setting(tmp_path, s3_endpoint, bucket):
    """A hung endpoint held ingest for minutes; the timeout is NEWSSTREAM_ARCHIVE_S3_TIMEOUT_SECONDS, not a literal."""
    _, name = bucket
    store = archive.archive_for(s3_settings(tmp_path, s3_endpoint, name, archive_s3_timeout_seconds=3.0)).bucket
    assert store is not None
    client_config = store.client.meta.config
    assert (client_config.connect_timeout, client_config.read_timeout) == (3.0, 3.0)
    assert client_config.retries["total_max_attempts"] == 2
