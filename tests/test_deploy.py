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


def test_docs_document_every_setting_and_readme_every_command():
    from streams.cli.commands import build_parser

    readme = (ROOT / "README.md").read_text("utf-8")
    configuration = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    missing = [var for var in Settings.env_vars() if f"`{var}`" not in configuration and f"{var}`" not in configuration]
    assert not missing, f"docs/configuration.md's table lacks {missing}"
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


# -- security defaults (issue 13) ---------------------------------------------------------------------------

def published(spec) -> list[str]:
    return [str(p) for p in spec.get("ports", [])]


def default_of(text: str) -> str:
    """`${VAR:-default}` -> default, as compose resolves it when VAR is unset."""
    import re

    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_published_ports_bind_to_loopback_unless_the_operator_opts_in(service):
    for port in published(SERVICES[service]):
        assert "${PUBLISH_ADDRESS:-127.0.0.1}:" in port, f"{service} publishes {port} on every interface"
        assert default_of(port).startswith("127.0.0.1:")


def test_every_password_and_the_worker_token_are_required():
    text = (ROOT / "docker-compose.yml").read_text()
    for var in ("CLICKHOUSE_WRITER_PASSWORD", "CLICKHOUSE_ANALYST_PASSWORD", "CLICKHOUSE_GRAFANA_PASSWORD",
                "GRAFANA_ADMIN_PASSWORD", "NEWSSTREAM_WEB_TOKEN"):
        assert f"${{{var}:?" in text, f"compose must refuse to start without {var}"
        assert f"{var}=change-me" in (ROOT / "deploy/env.example").read_text(), "the template shows every one"
    assert env_of("worker")["NEWSSTREAM_WEB_TOKEN"].startswith("${NEWSSTREAM_WEB_TOKEN:?")
    assert "worker" in env_of("worker")["NEWSSTREAM_WEB_ALLOWED_HOSTS"].split(",")
    assert "analyst:" in env_of("worker")["CLICKHOUSE_ANALYST_URL"], "analyst SQL runs as the read-only user"


@pytest.mark.parametrize("service, image_entrypoint", [("clickhouse", "/entrypoint.sh"), ("grafana", "/run.sh")])
def test_the_change_me_examples_are_refused_at_start(service, image_entrypoint, tmp_path):
    """Run the service's entrypoint guard with sh: change-me stops it, real passwords reach the image's entrypoint."""
    import subprocess

    shell, flag, script = SERVICES[service]["entrypoint"]
    assert (shell, flag) == ("/bin/sh", "-c") and script.endswith(f"exec {image_entrypoint}")
    script = script.replace("$$", "$").replace(f"exec {image_entrypoint}", "echo started")
    names = ["CLICKHOUSE_PASSWORD", "CLICKHOUSE_ANALYST_PASSWORD", "CLICKHOUSE_GRAFANA_PASSWORD",
             "GF_SECURITY_ADMIN_PASSWORD"]
    for bad in [n for n in names if f"${n}" in script]:
        env = {n: "3f9c0a" for n in names} | {bad: "change-me-" + bad.lower()}
        run = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
        assert run.returncode == 1 and "change-me" in run.stderr and "started" not in run.stdout, bad
    ok = subprocess.run(["sh", "-c", script], env={n: "3f9c0a" for n in names}, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.strip() == "started"


def test_the_worker_refuses_change_me_too(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("CLICKHOUSE_URL", "http://newsstream:change-me-writer@clickhouse:8123/newsstream")
    with pytest.raises(ValidationError, match="change-me"):
        Settings(_env_file=None)
    monkeypatch.setenv("CLICKHOUSE_URL", "http://newsstream:3f9c0a@clickhouse:8123/newsstream")
    monkeypatch.setenv("NEWSSTREAM_WEB_TOKEN", "change-me-token")
    with pytest.raises(ValidationError, match="change-me"):
        Settings(_env_file=None)


def test_the_feeder_is_off_until_its_profile_is_asked_for():
    assert SERVICES["feeder"].get("profiles") == ["feeder"]
    assert not [s for s, spec in SERVICES.items() if "feeder" in str(spec.get("depends_on", {}))]


def test_read_only_users_are_contained_in_clickhouse_itself():
    """A client that bypasses the SQL door (curl, Grafana) meets these: grants, readonly and limits it cannot lift."""
    import xml.etree.ElementTree as ET

    root = ET.parse(ROOT / "deploy/clickhouse/users.d/users.xml").getroot()
    defaults = Settings(_env_file=None)
    for name in ("analyst", "grafana"):
        user = root.find(f"users/{name}")
        assert [q.text for q in user.findall("grants/query")] == ["GRANT SELECT ON newsstream.*"], \
            "SELECT on our database only: no file/url/remote/s3 sources, no writes, no SYSTEM"
        assert user.find("access_management") is None and user.find("allow_databases") is None
        profile = root.find(f"profiles/{user.find('profile').text}")
        assert int(profile.find("readonly").text) >= 1 and profile.find("allow_ddl").text == "0"
        limits = {"max_execution_time": 60, "max_memory_usage": defaults.sql_max_memory_bytes,
                  "max_result_rows": defaults.sql_max_result_rows, "max_result_bytes": defaults.sql_max_result_bytes}
        for setting, ceiling in limits.items():
            value = float(profile.find(setting).text)
            assert 0 < value <= ceiling, f"{name}.{setting}"
            assert float(profile.find(f"constraints/{setting}/max").text) == value, f"{name} may not raise {setting}"
            # 0 means "no limit" and passes a max-only constraint (ClickHouse compares 0 <= max): a floor closes that.
            floor = profile.find(f"constraints/{setting}/min")
            assert floor is not None and float(floor.text) >= 1, f"{name} may lift {setting} with {setting}=0"
    analyst = root.find("profiles/analyst")
    assert float(analyst.find("max_execution_time").text) == defaults.sql_max_execution_seconds


def test_config_masks_passwords_inside_urls(monkeypatch, capsys):
    from streams.cli import main

    monkeypatch.setenv("CLICKHOUSE_URL", "http://newsstream:s3cr3t-pw@clickhouse:8123/newsstream")
    monkeypatch.setenv("CLICKHOUSE_ANALYST_URL", "http://analyst:an4lyst-pw@clickhouse:8123/newsstream")
    monkeypatch.setenv("NEWSSTREAM_WEB_TOKEN", "t0ken-t0ken-t0ken-t0ken")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-pw" not in out and "an4lyst-pw" not in out and "t0ken" not in out
    assert "CLICKHOUSE_URL=http://newsstream:***@clickhouse:8123/newsstream" in out
