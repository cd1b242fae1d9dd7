"""deploy/k8s, rendered as `kubectl apply -k` would (tests/deploy/kustomize.py) and checked offline:
every manifest against the Kubernetes API's schemas (kubernetes-validate bundles them; strict:
unknown fields are errors), then what the schemas cannot say: probes on the right paths, the
specification's resources, non-root and read-only pods, pinned images, a preStop drain, and
references that resolve (Service -> port, HPA -> Deployment, selectors -> pods, env -> settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from helpline.core import metrics
from helpline.core.config import LimitsSettings
from tests.deploy.kustomize import Resource, build, load_yaml_documents, pod_specs
from tests.deploy.settings_names import known_settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The Kubernetes version the manifests are validated against (its API schemas ship in the
# kubernetes-validate wheel). HPA autoscaling/v2, policy/v1 and networking.k8s.io/v1 are GA since 1.23.
KUBERNETES_VERSION = "1.33.0"
# The specification's Deployment Architecture (Kubernetes Deployment, resources).
SPEC_RESOURCES = {"requests": {"memory": "512Mi", "cpu": "250m"}, "limits": {"memory": "1Gi", "cpu": "500m"}}
KUSTOMIZATIONS = ["base", "overlays/production"]


def render(name: str) -> list[Resource]:
    return build(K8S / name)


def one(resources: list[Resource], kind: str, name: str) -> Resource:
    hits = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} found"
    return hits[0]


def containers(resources: list[Resource]) -> list[tuple[Resource, dict[str, Any]]]:
    return [
        (res, c)
        for res in resources
        for spec in pod_specs(res)
        for c in spec["containers"] + spec.get("initContainers", [])
    ]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_manifest_is_valid_for_the_pinned_kubernetes(name: str) -> None:
    resources = render(name)
    assert resources
    for res in resources:
        kubernetes_validate.validate(res, KUBERNETES_VERSION, strict=True)


def test_the_example_secret_is_valid_and_outside_the_kustomization() -> None:
    (secret,) = load_yaml_documents(K8S / "secret.example.yaml")
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    # Only placeholders: a real value would be a committed secret.
    assert all("REPLACE" in value for value in secret["stringData"].values())
    for name in KUSTOMIZATIONS:
        assert not [r for r in render(name) if r["kind"] == "Secret"], "apply -k must never overwrite the real Secret"


def test_a_broken_manifest_is_caught() -> None:
    """The validation is not vacuous: a misspelt field and a wrong type fail."""
    api = one(render("base"), "Deployment", "helpline-api")
    api["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBERNETES_VERSION, strict=True)
    api = one(render("base"), "Deployment", "helpline-api")
    api["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_images_are_pinned(name: str) -> None:
    for res, container in containers(render(name)):
        image = container["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, image
        assert "/" not in tag, f"{res['metadata']['name']}: {image} has no tag"
        assert tag != "latest", f"{res['metadata']['name']}: {image}"
        assert container.get("imagePullPolicy") == "IfNotPresent"


def test_the_production_overlay_sets_the_registry_and_namespace() -> None:
    resources = render("overlays/production")
    assert {c["image"] for _, c in containers(resources)} == {"registry.example.com/helpline:0.1.0-api"}
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {"helpline"}
    namespace = one(resources, "Namespace", "helpline")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_pods_run_as_non_root_with_a_read_only_root(name: str) -> None:
    resources = render(name)
    workloads = [r for r in resources if pod_specs(r)]
    assert {r["kind"] for r in workloads} == {"Deployment", "Job"}
    for res in workloads:
        (spec,) = pod_specs(res)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == 10001  # the image's user (deploy/Dockerfile)
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        mounted = set()
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounted |= {m["mountPath"] for m in container["volumeMounts"]}
        # What a read-only root leaves writable: HELPLINE_DATA_DIR and /tmp, each an emptyDir.
        assert mounted == {"/data", "/tmp"}
        assert all("emptyDir" in v for v in spec["volumes"])


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_container_has_the_specified_resources(name: str) -> None:
    for res, container in containers(render(name)):
        if res["kind"] == "Deployment":
            assert container["resources"] == SPEC_RESOURCES, res["metadata"]["name"]
        else:
            assert set(container["resources"]) == {"requests", "limits"}


def test_api_probes_and_drain() -> None:
    api = one(render("overlays/production"), "Deployment", "helpline-api")
    spec = api["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["args"] == ["serve", "--no-migrate"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert port == 8000
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60  # model loading
    # Readiness gives up before the app's own dependency timeout would (3 s per check).
    assert container["readinessProbe"]["timeoutSeconds"] > 3
    # preStop waits while the endpoint leaves the load balancer; the grace period covers it and an
    # answer in progress (HELPLINE_LLM_TIMEOUT_SECONDS, 60 s by default).
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + 60
    strategy = api["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


def test_the_worker_and_the_migration_job_run_the_cli() -> None:
    resources = render("overlays/production")
    worker = one(resources, "Deployment", "helpline-worker")
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["worker", "--no-migrate"]
    job = one(resources, "Job", "helpline-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # The API pods do not migrate: the Job does (deploy/k8s/README.md gives the order).
    config = one(resources, "ConfigMap", "helpline-config")["data"]
    assert config["HELPLINE_JOBS_IN_SERVER"] == "false"


def _selects(selector: dict[str, str], res: Resource) -> bool:
    labels = res["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in selector.items())


def test_references_resolve() -> None:
    resources = render("overlays/production")
    api = one(resources, "Deployment", "helpline-api")
    worker = one(resources, "Deployment", "helpline-worker")
    service = one(resources, "Service", "helpline-api")
    assert _selects(service["spec"]["selector"], api)
    assert not _selects(service["spec"]["selector"], worker)
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    ingress = one(resources, "Ingress", "helpline")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "helpline-api", "port": {"name": "http"}}
    assert ingress["spec"]["rules"][0]["host"] in ingress["spec"]["tls"][0]["hosts"]
    hpa = one(resources, "HorizontalPodAutoscaler", "helpline-api")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "helpline-api"}
    for pdb_name, target in [("helpline-api", api), ("helpline-worker", worker)]:
        pdb = one(resources, "PodDisruptionBudget", pdb_name)
        assert _selects(pdb["spec"]["selector"]["matchLabels"], target)
    policy = one(resources, "NetworkPolicy", "helpline")
    for deployment in (api, worker):
        assert _selects(policy["spec"]["podSelector"]["matchLabels"], deployment)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert refs == {"helpline-config", "helpline-secrets"}
    (secret,) = load_yaml_documents(K8S / "secret.example.yaml")
    assert secret["metadata"]["name"] == "helpline-secrets"
    # The policy lets the app reach the port it serves on.
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 8000, "protocol": "TCP"}]


def test_settings_names_are_real() -> None:
    config = one(render("overlays/production"), "ConfigMap", "helpline-config")["data"]
    (secret,) = load_yaml_documents(K8S / "secret.example.yaml")
    unknown = (set(config) | set(secret["stringData"])) - known_settings()
    assert not unknown, f"not Helpline settings (misspelt?): {sorted(unknown)}"


def test_autoscaling_on_cpu_and_the_websocket_option() -> None:
    base = one(render("base"), "HorizontalPodAutoscaler", "helpline-api")["spec"]
    assert (base["minReplicas"], base["maxReplicas"]) == (3, 10)
    assert base["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    production = one(render("overlays/production"), "HorizontalPodAutoscaler", "helpline-api")["spec"]
    pods = [m for m in production["metrics"] if m["type"] == "Pods"]
    assert len(pods) == 1
    # The gauge each API pod exports on /metrics.
    assert pods[0]["pods"]["metric"]["name"] == metrics.WS_CONNECTIONS._name == "websocket_connections_active"
    assert production["metrics"][0] == base["metrics"][0]


def test_ingress_keeps_streams_and_sockets_open() -> None:
    ingress = one(render("overlays/production"), "Ingress", "helpline")
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert int(notes[prefix + "proxy-read-timeout"]) >= 3600
    assert int(notes[prefix + "proxy-send-timeout"]) >= 3600
    assert notes[prefix + "proxy-buffering"] == "off"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    # The body limit is the app's (HELPLINE_LIMITS_MAX_BODY_BYTES' default).
    size = notes[prefix + "proxy-body-size"]
    assert size.endswith("m")
    assert int(size[:-1]) * 2**20 == LimitsSettings().max_body_bytes
    assert notes["cert-manager.io/cluster-issuer"]  # the overlay's patch merged, not replaced
    assert ingress["spec"]["rules"][0]["host"] == "help.example.org"


def test_the_migrate_first_selector_applies_what_the_job_needs() -> None:
    """deploy/k8s/README.md applies `-l 'app.kubernetes.io/component in (config,migrate)'` first,
    waits for the Job, then the rest: the Job's ServiceAccount and ConfigMap must come with it."""
    picked = {
        (r["kind"], r["metadata"]["name"])
        for r in render("overlays/production")
        if r["metadata"].get("labels", {}).get("app.kubernetes.io/component") in {"config", "migrate"}
    }
    assert picked == {("ServiceAccount", "helpline"), ("ConfigMap", "helpline-config"), ("Job", "helpline-migrate")}
    assert "component in (config,migrate)" in (K8S / "README.md").read_text()


def test_the_worker_exports_its_metrics_and_is_probed_there() -> None:
    resources = render("overlays/production")
    worker = one(resources, "Deployment", "helpline-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    port = int(args[args.index("--metrics-port") + 1])
    assert args[args.index("--metrics-host") + 1] == "0.0.0.0"  # noqa: S104 - reachable from outside the pod
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": port}
    assert container["livenessProbe"]["tcpSocket"] == {"port": "metrics"}
    assert worker["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    policy = one(resources, "NetworkPolicy", "helpline")
    assert [{"port": port, "protocol": "TCP"}] in [rule["ports"] for rule in policy["spec"]["ingress"]]
