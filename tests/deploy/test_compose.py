"""deploy/compose.yaml, checked without a Docker engine: against the Compose specification's JSON
schema (vendored by check-jsonschema), then what the schema cannot say: pinned images, settings
that exist, secrets only from the environment, and the TLS front. The front is
deploy/nginx/helpline.conf rendered by deploy/compose/devtls.py with a fresh self-signed
certificate, exactly as the stack's tls-init container runs it, then `nginx -t`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from tests.deploy.settings_names import known_settings
from tests.deploy.tools import DEPLOY, ROOT, tool

COMPOSE = DEPLOY / "compose.yaml"
DEVTLS = DEPLOY / "compose" / "devtls.py"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved
    return doc


def test_compose_file_matches_the_compose_schema() -> None:
    r = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_schema_check_is_not_vacuous(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("stop_grace_period: 90s", "stop_grace_period: 90s\n  replicas_: 2"))
    r = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 1
    assert "replicas_" in r.stdout


def test_the_stack_has_what_the_deployment_needs() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "app1", "app2", "worker", "tls-init", "nginx"} <= set(services)
    assert {"prometheus", "grafana"} <= set(services)
    assert all(services[s]["profiles"] == ["monitoring"] for s in ("prometheus", "grafana"))
    assert services["app1"]["command"] == ["serve", "--no-migrate"] == services["app2"]["command"]
    assert services["worker"]["command"][:2] == ["worker", "--no-migrate"]
    assert services["migrate"]["command"] == ["migrate"]
    for app in ("app1", "app2", "worker"):
        assert services[app]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[app]["read_only"] is True
        assert services[app]["environment"]["HELPLINE_JOBS_IN_SERVER"] == "false"
    assert services["app1"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / services["app1"]["build"]["context"]).resolve() == ROOT
    # Only nginx's own address may set the client's address for the apps.
    nginx_ip = services["nginx"]["networks"]["front"]["ipv4_address"]
    assert services["app1"]["environment"]["HELPLINE_TRUSTED_PROXIES"] == nginx_ip
    # PostgreSQL and Redis are on an internal network only.
    assert services["postgres"]["networks"] == ["back"] == services["redis"]["networks"]
    assert compose()["networks"]["back"]["internal"] is True


def test_images_are_pinned() -> None:
    for name, service in compose()["services"].items():
        image = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", service["image"])  # ${TAG:-0.1.0} -> 0.1.0
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {service['image']}"
        assert tag not in {"", "latest"}, f"{name}: {service['image']}"
        assert "/" not in tag, f"{name}: {service['image']} has no tag"
    # PostgreSQL as the embedded server of the tests (18) with pgvector.
    assert compose()["services"]["postgres"]["image"].startswith("pgvector/pgvector:0.8.")


def test_settings_are_real_and_secrets_come_from_the_environment() -> None:
    app = compose()["services"]["app1"]
    env = app["environment"]
    unknown = {k for k in env if k.startswith("HELPLINE_")} - known_settings()
    assert not unknown, f"not Helpline settings: {sorted(unknown)}"
    for key in ("HELPLINE_SECRET_KEY", "HELPLINE_METRICS_TOKEN"):
        assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", env[key]), f"{key} must be required from deploy/.env"
    assert ":${POSTGRES_PASSWORD:?" in env["HELPLINE_DATABASE_URL"]
    # No literal secret anywhere in the file: every password, key and token is interpolated.
    for line in COMPOSE.read_text().splitlines():
        match = re.match(r"\s*([A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*):\s*(\S+)", line)
        if match and not match.group(1).endswith("__FILE"):
            assert match.group(3).startswith("${"), line
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert ".env" in ignored
    assert "helpline.env" in ignored
    example = (DEPLOY / "compose.env.example").read_text()
    for required in set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text())):
        assert f"\n{required}=" in example, f"{required} is required but not in compose.env.example"


def test_monitoring_uses_the_shipped_rules_and_dashboard() -> None:
    services = compose()["services"]
    mounts = services["prometheus"]["volumes"] + services["grafana"]["volumes"]
    for source in (
        "./prometheus/alerts.yml",
        "./grafana",
        "./compose/prometheus.yml",
        "./compose/grafana-provisioning",
    ):
        assert any(m.startswith(source + ":") for m in mounts), source
        assert (DEPLOY / source).exists()
    scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["job_name"] == "helpline"  # the alert rules select job="helpline"
    assert job["static_configs"][0]["targets"] == ["app1:8000", "app2:8000"]
    # The worker's own /metrics (helpline worker --metrics-port), under the same job for the alert rules.
    worker = services["worker"]["command"]
    port = worker[worker.index("--metrics-port") + 1]
    assert job["static_configs"][1]["targets"] == [f"worker:{port}"]
    assert worker[worker.index("--metrics-host") + 1] == "0.0.0.0"  # noqa: S104 - reachable by Prometheus
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert "metrics_token" in services["prometheus"]["secrets"]


def devtls(out: Path, *args: str) -> str:
    r = subprocess.run([sys.executable, str(DEVTLS), str(out), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_devtls_makes_a_certificate_and_keeps_it(tmp_path: Path) -> None:
    assert "made" in devtls(tmp_path, "--site", "chat.test")
    cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "chat.test" in names.get_values_for_type(x509.DNSName)
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    before = (tmp_path / "tls" / "key.pem").read_bytes()
    assert "kept" in devtls(tmp_path, "--site", "chat.test")  # a restart keeps the trusted certificate
    assert (tmp_path / "tls" / "key.pem").read_bytes() == before
    assert "made" in devtls(tmp_path, "--site", "other.test")


def test_no_private_key_is_committed() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        path = ROOT / name
        if path.suffix in {".pem", ".key", ".crt", ".p12"}:
            pytest.fail(f"{name}: keys and certificates are made where they are used")
        if path.is_file() and path.stat().st_size < 1_000_000 and name.startswith(("deploy/", ".github/")):
            assert "PRIVATE KEY-----" not in path.read_text(errors="ignore"), name


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed: `make nginx` installs Debian's (make test does)")
def test_the_rendered_front_passes_nginx_t(tmp_path: Path) -> None:
    assert NGINX is not None
    conf = tmp_path / "conf.d"
    # As the tls-init container runs it, except that nginx here sees the folder at its own path
    # and the app containers' names are loopback (nginx -t resolves upstream host names).
    devtls(conf, "--nginx-dir", str(conf), "--upstream", "127.0.0.1:8001", "--upstream", "127.0.0.2:8001")
    text = (conf / "default.conf").read_text()
    assert "server 127.0.0.1:8001 max_fails=3" in text
    assert "server 127.0.0.2:8001" in text
    assert "127.0.0.1:8000" not in text
    assert "help.example.com" not in text
    assert "[::]" not in text
    assert f"ssl_certificate {conf}/tls/cert.pem;" in text
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log warn;\nevents {{}}\n"
        f"http {{\n  access_log {tmp_path}/access.log;\n  include {conf}/*.conf;\n}}\n"
    )
    r = subprocess.run([NGINX, "-t", "-c", str(main), "-p", f"{tmp_path}/", "-e", "stderr"], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr
