"""docker-compose.yml cannot run here; this checks that it agrees with the settings and the deploy files."""

from __future__ import annotations

import json

import pytest
import yaml

from streams.settings import Settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def env_of(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


@pytest.mark.parametrize("service", ["kafka", "clickhouse", "grafana", "worker", "feeder"])
def test_services_exist(service):
    assert service in SERVICES


def test_worker_env_names_are_real_settings():
    known = set(Settings.env_vars())
    for service, spec in SERVICES.items():
        if spec.get("build") or "newsstream" in str(spec.get("command", "")):
            unknown = {k for k in env_of(service) if k.startswith(("NEWSSTREAM_", "KAFKA_URL", "CLICKHOUSE_URL"))} - known
            assert not unknown, f"{service} sets variables no setting reads: {unknown}"


def test_worker_points_at_the_compose_kafka_and_clickhouse():
    env = env_of("worker")
    assert env["KAFKA_URL"].split("://")[-1].split(":")[0] == "kafka"
    assert env["CLICKHOUSE_URL"].startswith("http://") and "@clickhouse:8123" in env["CLICKHOUSE_URL"]
    settings = Settings(kafka_url=env["KAFKA_URL"], clickhouse_url=env["CLICKHOUSE_URL"])
    assert not settings.embedded_warehouse
    port = int(env.get("NEWSSTREAM_WEB_PORT", Settings.model_fields["web_port"].default))
    assert any(str(port) in str(p) for p in SERVICES["worker"].get("ports", [])) or "expose" in SERVICES["worker"]


def test_kafka_listens_where_the_worker_looks():
    env = env_of("kafka")
    target = env_of("worker")["KAFKA_URL"].split("://")[-1]
    assert target in env["KAFKA_ADVERTISED_LISTENERS"]


def test_worker_image_and_command():
    worker = SERVICES["worker"]
    assert (ROOT / worker["build"]["context"] / worker["build"]["dockerfile"]).is_file()
    command = worker["command"] if isinstance(worker["command"], str) else " ".join(worker["command"])
    assert command.split()[:2] == ["newsstream", "run"]


def test_grafana_datasource_points_at_the_compose_clickhouse():
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/clickhouse.yaml").read_text())
    [source] = ds["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["host"] == "clickhouse"
    assert "grafana-clickhouse-datasource" in env_of("grafana").get("GF_INSTALL_PLUGINS", "")


def test_dashboards_parse_and_use_the_provisioned_datasource():
    dashboards = list((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    assert dashboards
    for path in dashboards:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "newsstream-clickhouse"


def test_readme_documents_every_setting_and_command():
    from streams.cli import build_parser

    readme = (ROOT / "README.md").read_text("utf-8")
    missing = [var for var in Settings.env_vars() if f"`{var}`" not in readme and f"{var}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
    commands = build_parser()._subparsers._group_actions[0].choices
    undocumented = [c for c in commands if f"`newsstream {c}" not in readme]
    assert not undocumented, f"README's command table lacks {undocumented}"


def test_feeder_reads_the_mounted_sources_file_and_keeps_its_store():
    feeder = SERVICES["feeder"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in feeder["volumes"]}
    command = feeder["command"].split()
    assert command[:2] == ["newsstream", "feed"]
    config = command[command.index("--config") + 1]
    assert (ROOT / mounts[config]).is_file()
    assert env_of("feeder")["NEWSSTREAM_DATA_DIR"] in mounts
    assert "analyst:" in env_of("feeder")["CLICKHOUSE_URL"], "the feeder only reads the warehouse"


def test_feeder_metrics_port_is_published_and_bound_beyond_the_container():
    env = env_of("feeder")
    port = env.get("NEWSSTREAM_FEEDER_METRICS_PORT", str(Settings.model_fields["feeder_metrics_port"].default))
    assert any(port in str(p) for p in SERVICES["feeder"]["ports"])
    assert env.get("NEWSSTREAM_WEB_HOST") == "0.0.0.0", "the metrics server binds NEWSSTREAM_WEB_HOST"
