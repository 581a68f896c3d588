"""Kafka TLS/SASL and ClickHouse TLS come from the environment and reach every client."""

from __future__ import annotations

import ssl

import faust

from streams.runtime.kafka import faust_credentials, kafka_options
from streams.settings import Settings


def test_plaintext_by_default():
    settings = Settings(_env_file=None)
    assert kafka_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_from_environment(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "pipeline")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    settings = Settings(_env_file=None)
    options = kafka_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_username"] == "pipeline"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "s3cret" not in repr(settings), "the password never shows in logs or `newsstream config`"
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials) and credentials.mechanism.value == "SCRAM-SHA-512"


def test_ssl_only(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    assert isinstance(faust_credentials(Settings(_env_file=None)), faust.SSLCredentials)
