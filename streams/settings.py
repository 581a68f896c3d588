"""One frozen settings object, read from environment variables.

Each field's description names its variable; `newsstream config` prints them all.
An unset KAFKA_URL or CLICKHOUSE_URL means "use the embedded part" (Tansu, chDB).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.cores import available_cores


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsstream"


def mask_url_password(value: str) -> str:
    """`http://u:secret@h/db` -> `http://u:***@h/db`, for printing settings; other values unchanged."""
    try:
        parts = urlsplit(value)
        if parts.password is None:
            return value
    except ValueError:
        return value
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class Settings(BaseSettings):
    # No setting means infinity or NaN: a duration of `inf` passed validation and crashed the worker later.
    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", frozen=True, extra="ignore", populate_by_name=True,
                                      allow_inf_nan=False)

    kafka_url: str | None = Field(
        None,
        validation_alias=AliasChoices("KAFKA_URL", "NEWSSTREAM_KAFKA_URL"),
        description="KAFKA_URL: Kafka bootstrap, e.g. kafka://host:9092. Unset: start/use the local Tansu broker.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL"),
        description="KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", validation_alias=AliasChoices("KAFKA_SASL_MECHANISM"),
        description="KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_* protocol).",
    )
    kafka_sasl_username: str | None = Field(
        None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME"), description="KAFKA_SASL_USERNAME: SASL user."
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, validation_alias=AliasChoices("KAFKA_SASL_PASSWORD"), description="KAFKA_SASL_PASSWORD: SASL password."
    )
    kafka_ssl_cafile: Path | None = Field(
        None, validation_alias=AliasChoices("KAFKA_SSL_CAFILE"),
        description="KAFKA_SSL_CAFILE: CA bundle to verify the brokers (SSL, SASL_SSL). Unset: the system's.",
    )
    clickhouse_url: str | None = Field(
        None,
        validation_alias=AliasChoices("CLICKHOUSE_URL", "NEWSSTREAM_CLICKHOUSE_URL"),
        description="CLICKHOUSE_URL: http(s)://user:pass@host:8123/db for a server (TLS options as query "
        "parameters, e.g. ?ca_cert=/path/ca.pem), chdb:///abs/dir for embedded. "
        "Unset: chdb in NEWSSTREAM_DATA_DIR/clickhouse.",
    )
    data_dir: Path = Field(
        Path(".newsstream"),
        description="NEWSSTREAM_DATA_DIR: local state (embedded ClickHouse, broker/worker address files).",
    )
    cache_dir: Path = Field(
        default_factory=lambda: _default_cache_dir(),
        description="NEWSSTREAM_CACHE_DIR: compiled actor dictionaries (one file per content) and the language model "
        "unpacked (~68 MB, memory-mapped), private to the user. Unset or empty: $XDG_CACHE_HOME/newsstream, else "
        "~/.cache/newsstream.",
    )
    archive_dir: Path | None = Field(
        None, description="NEWSSTREAM_ARCHIVE_DIR: the raw archive (WARC segments of every page that entered). "
        "Unset: NEWSSTREAM_DATA_DIR/archive. "
        "Share it between the writers (ingest, feed, backfill) and the sink worker.",
    )
    archive_retention_days: float = Field(
        90.0, ge=0, allow_inf_nan=False,
        description="NEWSSTREAM_ARCHIVE_RETENTION_DAYS: `archive prune` (and the sink worker, daily) deletes "
        "segments whose newest page is older than this. 0: keep forever.",
    )
    archive_segment_bytes: int = Field(
        64_000_000, ge=1, description="NEWSSTREAM_ARCHIVE_SEGMENT_BYTES: a writer starts a new segment past this size.",
    )
    archive_segment_seconds: float = Field(
        300.0, ge=0, allow_inf_nan=False, description="NEWSSTREAM_ARCHIVE_SEGMENT_SECONDS: a writer starts a new "
        "segment (with a bucket: uploads the one it closes) at its first page past this age. 0: by size only.",
    )
    archive_s3_bucket: str | None = Field(
        None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$",
        description="NEWSSTREAM_ARCHIVE_S3_BUCKET: keep the archive in this S3-compatible bucket (segments are "
        "written in NEWSSTREAM_ARCHIVE_DIR first and uploaded when they close). Credentials: AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or any source boto3 reads). Unset: the archive directory only.",
    )
    archive_s3_prefix: str = Field(
        "archive/", description="NEWSSTREAM_ARCHIVE_S3_PREFIX: key prefix of the segments in the bucket.",
    )
    archive_s3_endpoint: str | None = Field(
        None, description="NEWSSTREAM_ARCHIVE_S3_ENDPOINT: http(s)://host:port of an S3-compatible service "
        "(MinIO, Ceph, ...). Unset: AWS S3.",
    )
    archive_s3_region: str | None = Field(
        None, description="NEWSSTREAM_ARCHIVE_S3_REGION: the bucket's region. Unset: AWS_REGION / boto3's default.",
    )
    archive_s3_timeout_seconds: float = Field(
        15.0, gt=0, allow_inf_nan=False,
        description="NEWSSTREAM_ARCHIVE_S3_TIMEOUT_SECONDS: connect and read timeout of each bucket request (tried "
        "twice); a hung endpoint costs a writer about this long before it keeps the segment locally.",
    )
    topic_prefix: str = Field("newsstream", description="NEWSSTREAM_TOPIC_PREFIX: prefix of every topic name.")
    partitions: int = Field(4, ge=1, description="NEWSSTREAM_PARTITIONS: partitions of the parallel topics.")
    app_id: str = Field("newsstream", description="NEWSSTREAM_APP_ID: Faust app id (consumer group).")
    max_page_bytes: int = Field(
        5_000_000, ge=1, description="NEWSSTREAM_MAX_PAGE_BYTES: larger pages are rejected as 'oversized'."
    )
    min_text_chars: int = Field(
        200, ge=1, description="NEWSSTREAM_MIN_TEXT_CHARS: shorter extracted bodies are rejected as 'no article text'."
    )
    max_text_chars: int = Field(
        200_000, ge=1, description="NEWSSTREAM_MAX_TEXT_CHARS: longer extracted texts are rejected as 'text too long'."
    )
    max_mentions: int = Field(
        1000, ge=1, description="NEWSSTREAM_MAX_MENTIONS: mentions kept per article (the first ones by position)."
    )
    entities_batch_size: int = Field(
        64, ge=1, le=4096,
        description="NEWSSTREAM_ENTITIES_BATCH_SIZE: articles `process` passes to the entities step at once, and "
        "most events a worker's entities agent takes at once of those already waiting (its recognizer runs once "
        "per batch, cheaper per article). 1: one article at a time.",
    )
    entities_batch_chars: int = Field(
        1_000_000, ge=1, le=100_000_000,
        description="NEWSSTREAM_ENTITIES_BATCH_CHARS: most characters of text the entities step takes in one batch "
        "(a batch of long articles is cut into parts this long): the batch's arrays take ~100 bytes a character.",
    )
    stream_buffer: int = Field(
        256, ge=1, description="NEWSSTREAM_STREAM_BUFFER: messages a worker buffers per partition (in-flight bound)."
    )
    clean_workers: int = Field(
        default_factory=available_cores, ge=1, le=64,
        description="NEWSSTREAM_CLEAN_WORKERS: pages a worker cleans side by side, each in its own child process "
        "(the clean agent's concurrency). Default: the cores this process may use (affinity, cgroup quota), at most 4.",
    )
    clean_timeout_seconds: float = Field(
        10.0, ge=0,
        description="NEWSSTREAM_CLEAN_TIMEOUT_SECONDS: longest time cleaning one page may take; a page over "
        "it is rejected as 'timeout' (cleaning runs in a child process, replaced after a timeout). 0: no budget.",
    )
    site_profile_seconds: float = Field(
        600.0, ge=0, description="NEWSSTREAM_SITE_PROFILE_SECONDS: how often the worker holding the warehouse learns "
        "per-site chrome lines and title affixes from stored articles (table site_profiles) and hands them to the "
        "clean stage. 0: never.",
    )
    actors_path: Path | None = Field(
        None,
        description="NEWSSTREAM_ACTORS_PATH: actor dictionary: one YAML file, or a directory of them (every *.yaml "
        "under it). Unset: the bundled schemas/actors.yaml and schemas/actors/*.yaml."
    )
    sink_batch_size: int = Field(500, ge=1, description="NEWSSTREAM_SINK_BATCH_SIZE: rows per ClickHouse insert.")
    sink_flush_seconds: float = Field(
        2.0, gt=0, le=3600,
        description="NEWSSTREAM_SINK_FLUSH_SECONDS: at most one warehouse write per this interval: a partial batch is "
        "written once this long has passed since the previous write started (at once after a pause). A write costs "
        "~0.1-0.2 s of CPU whatever its size (one insert per table, their views and parts), so this trades CPU per "
        "page against freshness: it adds up to this long to raw-to-queryable."
    )
    consumer_fetch_wait_seconds: float = Field(
        0.1, ge=0.01, le=30, allow_inf_nan=False,
        description="NEWSSTREAM_CONSUMER_FETCH_WAIT_SECONDS: longest time the stages' and the sink's consumers let "
        "the broker hold a fetch that has no new records yet (0.01-30). A broker that does not answer such a fetch as "
        "soon as a record arrives (the local Tansu) can delay each hop of a page by up to this long; lower means more "
        "idle fetches.",
    )
    sink_max_retries: int = Field(
        8, ge=0, description="NEWSSTREAM_SINK_MAX_RETRIES: retries of one warehouse write after a transient error "
        "(connection, overload); then the sink stops without committing, and a restart re-delivers.",
    )
    sink_retry_first_seconds: float = Field(
        1.0, gt=0, description="NEWSSTREAM_SINK_RETRY_FIRST_SECONDS: wait before the first retry; doubles each time.",
    )
    sink_retry_max_seconds: float = Field(
        30.0, gt=0, description="NEWSSTREAM_SINK_RETRY_MAX_SECONDS: longest wait between two retries.",
    )
    run_sink: bool = Field(
        True, validation_alias=AliasChoices("NEWSSTREAM_SINK"),
        description="NEWSSTREAM_SINK: this worker writes to the warehouse and runs reconcile. With embedded ClickHouse "
        "exactly one worker may (chDB allows one process per directory); start extra workers with false.",
    )
    reconcile_seconds: float = Field(
        300.0, ge=0, description="NEWSSTREAM_RECONCILE_SECONDS: how often the sink worker re-sends raw messages that "
        "have no outcome in the ledger. 0 disables.",
    )
    reconcile_grace_seconds: float = Field(
        120.0, ge=0, description="NEWSSTREAM_RECONCILE_GRACE_SECONDS: raw messages younger than this are in flight, "
        "not missing.",
    )
    lag_seconds: float = Field(15.0, gt=0, description="NEWSSTREAM_LAG_SECONDS: how often consumer lag is measured.")
    kafka_confirm_seconds: float = Field(
        10.0, gt=0, le=3600,
        description="NEWSSTREAM_KAFKA_CONFIRM_SECONDS: reading a topic to its end at start (the stories not yet in the "
        "warehouse) waits this long after the last record for the broker to confirm nothing follows, then goes on "
        "with what it read and logs a warning.",
    )
    group_session_timeout: float = Field(
        10.0, gt=0,
        description="NEWSSTREAM_GROUP_SESSION_TIMEOUT: consumer-group session and rebalance timeout, seconds.",
    )
    local_group_session_timeout: float = Field(
        2.0, ge=1,
        description="NEWSSTREAM_LOCAL_GROUP_SESSION_TIMEOUT: the same for workers on the local broker that `run` "
        "starts, seconds. Tansu holds every group join for half of it (1 s steps), so it bounds how soon `run` is "
        "ready; at least 1 (a member silent that long leaves its group). Kafka refuses session timeouts under 6 s by "
        "default.",
    )
    feeder_metrics_port: int = Field(
        9108, ge=0, description="NEWSSTREAM_FEEDER_METRICS_PORT: the feeder's Prometheus port (0: none)."
    )
    feeder_user_agent: str = Field(
        "newsstream-feeder/0.1", description="NEWSSTREAM_FEEDER_USER_AGENT: User-Agent, also matched in robots.txt."
    )
    feeder_allow_private: bool = Field(
        False, description="NEWSSTREAM_FEEDER_ALLOW_PRIVATE: allow private, loopback and link-local addresses "
        "(off: the SSRF guard refuses them after DNS resolution).",
    )
    feeder_host_concurrency: int = Field(
        2, ge=1, description="NEWSSTREAM_FEEDER_HOST_CONCURRENCY: requests in flight per host."
    )
    feeder_host_delay: float = Field(
        1.0, ge=0, description="NEWSSTREAM_FEEDER_HOST_DELAY: seconds between requests to one host."
    )
    feeder_timeout_seconds: float = Field(
        20.0, gt=0, description="NEWSSTREAM_FEEDER_TIMEOUT_SECONDS: longest one HTTP request may take."
    )
    feeder_retries: int = Field(
        3, ge=0, description="NEWSSTREAM_FEEDER_RETRIES: retries after a 5xx, 429 or timeout (backoff with jitter)."
    )
    feeder_max_redirects: int = Field(5, ge=0, description="NEWSSTREAM_FEEDER_MAX_REDIRECTS: redirect hops per fetch.")
    feeder_max_attempts: int = Field(
        5, ge=1, description="NEWSSTREAM_FEEDER_MAX_ATTEMPTS: polls in which a page may fail (5xx, 429, timeout) "
        "before the feeder gives up on it (a dead letter, reason 'fetch failed').",
    )
    feeder_resend_after_seconds: float = Field(
        3600.0, gt=0, description="NEWSSTREAM_FEEDER_RESEND_AFTER_SECONDS: a sent page with no outcome in the "
        "warehouse after this long is fetched again.",
    )
    story_window_days: float = Field(
        30.0, gt=0, description="NEWSSTREAM_STORY_WINDOW_DAYS: the stories index keeps an article this many days after "
        "indexing it, and matches copies published within this many days of each other."
    )
    story_index_max: int = Field(
        100_000, ge=1, description="NEWSSTREAM_STORY_INDEX_MAX: most articles in the stories index (7-9 KB each); "
        "past it the oldest leave first."
    )
    analyst_clickhouse_url: str | None = Field(
        None, validation_alias=AliasChoices("CLICKHOUSE_ANALYST_URL", "NEWSSTREAM_ANALYST_CLICKHOUSE_URL"),
        description="CLICKHOUSE_ANALYST_URL: ClickHouse server URL of the read-only analyst user, "
        "for `sql`, `cookbook`, `report` and /sql. Unset: the warehouse URL (the SQL door still applies).",
    )
    sql_max_execution_seconds: float = Field(
        30.0, gt=0, description="NEWSSTREAM_SQL_MAX_EXECUTION_SECONDS: an analyst query running longer is stopped.",
    )
    sql_max_memory_bytes: int = Field(
        1 << 30, ge=1 << 20, description="NEWSSTREAM_SQL_MAX_MEMORY_BYTES: memory one analyst query may use.",
    )
    sql_max_result_rows: int = Field(
        500_000, ge=1, description="NEWSSTREAM_SQL_MAX_RESULT_ROWS: a longer analyst result is cut (and says so).",
    )
    sql_max_result_bytes: int = Field(
        128 << 20, ge=1 << 20, description="NEWSSTREAM_SQL_MAX_RESULT_BYTES: ClickHouse stops reading a result past "
        "this size (uncompressed); the result is cut.",
    )
    sql_concurrency: int = Field(
        2, ge=1, description="NEWSSTREAM_SQL_CONCURRENCY: analyst queries the worker runs at once (in their own "
        "threads, never in the sink's); more get HTTP 429.",
    )
    web_token: SecretStr | None = Field(
        None, description="NEWSSTREAM_WEB_TOKEN: bearer token of the worker's API (/sql, /reconcile, /replay, "
        "/reprocess, /actors-sync). Unset: a random one in NEWSSTREAM_DATA_DIR/worker-token (mode 0600), created at "
        "first start and read by the CLI.",
    )
    web_allowed_hosts: str = Field(
        "", description="NEWSSTREAM_WEB_ALLOWED_HOSTS: extra Host header values (comma-separated host[:port]) the "
        "worker's API answers, besides localhost, 127.0.0.1, [::1] and NEWSSTREAM_WEB_HOST "
        "(e.g. worker:6066 in compose).",
    )
    web_host: str = Field("127.0.0.1", description="NEWSSTREAM_WEB_HOST: worker HTTP endpoint bind address.")
    web_port: int = Field(6066, ge=1, le=65535,
                          description="NEWSSTREAM_WEB_PORT: worker HTTP endpoint port (/health, /sql).")
    log_level: str = Field("info", description="NEWSSTREAM_LOG_LEVEL: worker log level.")
    log_format: Literal["text", "json"] = Field(
        "text", description="NEWSSTREAM_LOG_FORMAT: text, or json for one structured object per line."
    )
    memory_trace: Path | None = Field(
        None, description="NEWSSTREAM_MEMORY_TRACE: a file the worker appends tracemalloc diffs to (the Python lines "
        "whose memory grew most, with RssAnon/RssFile), to find where memory goes. Diagnostic: costs CPU. Unset: off.",
    )
    memory_trace_seconds: float = Field(
        60.0, gt=0, le=86_400, allow_inf_nan=False,
        description="NEWSSTREAM_MEMORY_TRACE_SECONDS: seconds between two diffs of NEWSSTREAM_MEMORY_TRACE.",
    )

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_cache_dir_is_unset(cls, value: object) -> object:
        # an empty variable (compose passes unset ones as "") would be Path("") = the current folder: 75 MB there
        return _default_cache_dir() if isinstance(value, str) and not value.strip() else value

    @field_validator("archive_s3_bucket", mode="before")
    @classmethod
    def _no_bucket(cls, bucket: str | None) -> str | None:
        return bucket or None  # compose passes an unset variable as ""

    @field_validator("archive_s3_endpoint")
    @classmethod
    def _an_s3_endpoint(cls, url: str | None) -> str | None:
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            raise ValueError("not an S3 endpoint: http(s)://host:port")
        return url or None

    @field_validator("archive_s3_prefix")
    @classmethod
    def _a_key_prefix(cls, prefix: str) -> str:
        """`archive`, `/archive/` and `archive/` are the same prefix; "" is the bucket's top."""
        prefix = prefix.strip("/")
        return f"{prefix}/" if prefix else ""

    @field_validator("clickhouse_url", "analyst_clickhouse_url")
    @classmethod
    def _a_warehouse_url(cls, url: str | None) -> str | None:
        """http(s) or chdb with an absolute folder: another scheme was taken for HTTP by the driver."""
        if not url:
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "chdb"):
            raise ValueError(f"scheme {parts.scheme!r} is not a warehouse URL: http(s)://user:pass@host:8123/db "
                             "for a server, chdb:///abs/dir for embedded")
        if parts.scheme == "chdb" and (parts.netloc or not parts.path.startswith("/")):
            raise ValueError(f"{url}: an embedded warehouse needs an absolute folder, chdb:///abs/dir")
        return url

    @model_validator(mode="after")
    def _no_example_passwords(self) -> Settings:
        """The deploy templates' `change-me` passwords are refused at start, wherever they were pasted."""
        secrets = [urlsplit(u).password or "" for u in (self.clickhouse_url, self.analyst_clickhouse_url) if u]
        secrets += [s.get_secret_value() for s in (self.kafka_sasl_password, self.web_token) if s is not None]
        if any(s.startswith("change-me") for s in secrets):
            raise ValueError("a password or token is still the `change-me` example of deploy/env.example; "
                             "set a real one (e.g. `openssl rand -hex 24`)")
        return self

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @cached_property
    def warehouse_url(self) -> str:
        return self.clickhouse_url or f"chdb://{self.data_path / 'clickhouse'}"

    @cached_property
    def archive_path(self) -> Path:
        return (self.archive_dir or self.data_dir / "archive").expanduser().resolve()

    @cached_property
    def analyst_warehouse_url(self) -> str:
        return self.analyst_clickhouse_url or self.warehouse_url

    @property
    def embedded_warehouse(self) -> bool:
        return self.warehouse_url.startswith("chdb://")

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    @classmethod
    def env_vars(cls) -> dict[str, str]:
        """Environment variable -> field description, for `newsstream config` and the deploy test."""
        out: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            first = alias.choices[0] if isinstance(alias, AliasChoices) else None
            var = first if isinstance(first, str) else f"NEWSSTREAM_{name.upper()}"
            out[var] = field.description or ""
        return out


def load_settings() -> Settings:
    """The settings from the environment; a bad value is a UserError naming its variable, not a traceback."""
    from pydantic import ValidationError

    from streams.errors import UserError

    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        variables = dict(zip(Settings.model_fields, Settings.env_vars(), strict=False))
        variable = variables.get(field, field)  # an alias (KAFKA_URL, NEWSSTREAM_SINK) is reported as itself
        # never echo a secret: a password, or a URL that may hold one
        shown = "" if "PASSWORD" in variable or variable.endswith("_URL") else f"={error.get('input')!r}"
        raise UserError(f"{variable}{shown}: {error['msg']}") from None
