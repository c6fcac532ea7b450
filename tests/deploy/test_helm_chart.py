"""Offline validation of the Helm chart: lint, render several values files, validate every manifest against the
Kubernetes schemas, and check the properties that matter in production."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

helm_chart = pytest.importorskip("helm_python.chart", reason="helm-python-sdk is a dev dependency (make setup)")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "motion-retrieval"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.33.0"
SCHEMA_VERSION = kubernetes_validate.latest_version()
# Kinds whose schemas are CRDs, not part of Kubernetes' bundled schemas.
CRD_KINDS = {"ServiceMonitor"}
EXTERNAL = {"externalMilvus": {"uri": "http://milvus.data.svc:19530"}}


def render(values: dict, name: str = "mr", namespace: str = "search") -> list[dict]:
    out = helm_chart.Chart.load(str(CHART)).render(values, name=name, namespace=namespace)
    docs = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {[d['metadata']['name'] for d in by_kind(docs, kind)]}"
    return found[0]


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


@pytest.fixture(scope="module")
def chart_without_dependency(tmp_path_factory) -> Path:
    """The Milvus dependency cannot be fetched here: lint a copy whose Chart.yaml drops it."""
    copy = tmp_path_factory.mktemp("chart") / "motion-retrieval"
    shutil.copytree(CHART, copy)
    meta = yaml.safe_load((copy / "Chart.yaml").read_text())
    meta.pop("dependencies")
    (copy / "Chart.yaml").write_text(yaml.safe_dump(meta))
    return copy


def test_every_scenario_is_covered():
    names = {p.name for p in CI_VALUES}
    assert {"external-milvus-values.yaml", "gpu-pvc-values.yaml", "tls-auth-values.yaml",
            "ingest-job-values.yaml", "bundled-milvus-values.yaml"} <= names


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_lint_strict(chart_without_dependency, values_file):
    result = helm_chart.lint(str(chart_without_dependency), load_values(values_file), strict=True,
                             kube_version=KUBE_VERSION)
    assert not result["errors"], result["messages"]


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_manifests_validate_against_kubernetes_schemas(values_file):
    docs = render(load_values(values_file))
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_workloads_are_hardened_probed_and_sized(values_file):
    docs = render(load_values(values_file))
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "Job")
    assert workloads
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, where
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["requests"] and container["resources"]["limits"], where
        if workload["kind"] != "Deployment":
            continue
        for container in pod["containers"]:
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(probe_name)
                assert probe, f"{workload['metadata']['name']} has no {probe_name}"
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    if handler in probe:
                        port = probe[handler]["port"]
                        assert port in ports or port in ports.values(), f"{probe_name} points at {port}, not {ports}"


def test_service_config_points_at_the_rendered_services():
    docs = render(load_values(CHART / "ci" / "external-milvus-values.yaml"), name="prod", namespace="motion")
    config = one(docs, "ConfigMap", "prod-motion-retrieval-server")["data"]
    triton_service = one(docs, "Service", "prod-motion-retrieval-triton")
    grpc_port = next(p["port"] for p in triton_service["spec"]["ports"] if p["name"] == "grpc")
    assert config["MOTION_RETRIEVAL_TRITON_URL"] == f"prod-motion-retrieval-triton.motion.svc:{grpc_port}"
    assert config["MOTION_RETRIEVAL_MILVUS_URI"] == "http://milvus.data.svc:19530"
    assert config["MOTION_RETRIEVAL_BACKEND"] == "triton"

    server = one(docs, "Deployment", "prod-motion-retrieval-server")
    container = server["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(config["MOTION_RETRIEVAL_PORT"]) == container_ports["grpc"]
    assert int(config["MOTION_RETRIEVAL_METRICS_PORT"]) == container_ports["metrics"]
    assert container["args"][0] == "serve"
    assert container["envFrom"][0]["configMapRef"]["name"] == "prod-motion-retrieval-server"
    token_env = next(e for e in container["env"] if e["name"] == "MOTION_RETRIEVAL_MILVUS_TOKEN")
    assert token_env["valueFrom"]["secretKeyRef"]["name"] == "milvus-credentials"

    # Every Service selects pods that exist, on ports those pods declare.
    pods = {d["metadata"]["name"]: d["spec"]["template"] for d in by_kind(docs, "Deployment")}
    for service in by_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        matches = [t for t in pods.values() if selector.items() <= t["metadata"]["labels"].items()]
        assert len(matches) == 1, service["metadata"]["name"]
        declared = {p["name"] for c in matches[0]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= declared
    # HPAs and PDBs point at the Deployments of this release.
    for hpa in by_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] in pods
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= t["metadata"]["labels"].items() for t in pods.values())


def test_labels_follow_kubernetes_recommendations():
    for doc in render(EXTERNAL):
        labels = doc["metadata"]["labels"]
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                    "app.kubernetes.io/managed-by"):
            assert key in labels, (doc["kind"], doc["metadata"]["name"], key)


def test_gpu_triton_with_pvc_repository():
    docs = render(load_values(CHART / "ci" / "gpu-pvc-values.yaml"))
    triton = one(docs, "Deployment", "mr-motion-retrieval-triton")
    pod = triton["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert "initContainers" not in pod
    volume = next(v for v in pod["volumes"] if v["name"] == "model-repository")
    assert volume["persistentVolumeClaim"] == {"claimName": "motion-models", "readOnly": True}
    assert "--model-repository=/models" in container["args"]
    # The startup probe leaves room for model load: at least 5 minutes.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert "replicas" not in triton["spec"]  # the HPA owns the replica count
    assert one(docs, "HorizontalPodAutoscaler", "mr-motion-retrieval-triton")["spec"]["minReplicas"] == 2


def test_tls_and_auth_are_wired():
    docs = render(load_values(CHART / "ci" / "tls-auth-values.yaml"))
    server = one(docs, "Deployment", "mr-motion-retrieval-server")
    pod = server["spec"]["template"]["spec"]
    container = pod["containers"][0]
    config = one(docs, "ConfigMap", "mr-motion-retrieval-server")["data"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "tls")
    assert config["MOTION_RETRIEVAL_TLS_CERT"].startswith(mount["mountPath"] + "/")
    assert next(v for v in pod["volumes"] if v["name"] == "tls")["secret"]["secretName"] == "motion-retrieval-tls"
    # Native gRPC probes cannot speak TLS: the readiness probe runs the health checker over TLS instead.
    assert container["readinessProbe"]["exec"]["command"][:3] == ["python", "-m", "server.healthcheck"]
    secret = one(docs, "Secret", "mr-motion-retrieval-auth")
    token_env = next(e for e in container["env"] if e["name"] == "MOTION_RETRIEVAL_AUTH_TOKEN")
    assert token_env["valueFrom"]["secretKeyRef"] == {"name": "mr-motion-retrieval-auth", "key": "token"}
    assert "token" in secret["data"]
    policy = one(docs, "NetworkPolicy", "mr-motion-retrieval-server")
    allowed = [{"podSelector": {"matchLabels": {"motion-retrieval/client": "true"}}}]
    assert policy["spec"]["ingress"][0]["from"] == allowed
    assert len(by_kind(docs, "ServiceMonitor")) == 2


def test_ingest_job_and_torchscript_only_service():
    docs = render(load_values(CHART / "ci" / "ingest-job-values.yaml"))
    assert not [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-triton")]
    assert "MOTION_RETRIEVAL_TRITON_URL" not in one(docs, "ConfigMap", "mr-motion-retrieval-server")["data"]
    job = by_kind(docs, "Job")[0]
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][:3] == ["ingest", "/data/cmu", "/data/humanml3d"]
    assert "--milvus=http://milvus.data.svc:19530" in container["args"]
    assert pod["restartPolicy"] == "Never"
    data_volume = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data_volume["persistentVolumeClaim"]["claimName"] == "mocap-archive"
    # The job gets the model repository from the model image, like the service.
    assert pod["initContainers"][0]["name"] == "fetch-model-repository"


def test_bundled_milvus_address_is_computed():
    docs = render(load_values(CHART / "ci" / "bundled-milvus-values.yaml"), name="demo", namespace="ml")
    config = one(docs, "ConfigMap", "demo-motion-retrieval-server")["data"]
    assert config["MOTION_RETRIEVAL_MILVUS_URI"] == "http://demo-milvus.ml.svc:19530"


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "externalMilvus.uri is required"),
        ({**EXTERNAL, "triton": {"gpus": 1, "replicaCount": 0}}, "triton.replicaCount is 0"),
        ({**EXTERNAL, "server": {"tls": {"enabled": True}}}, "server.tls.secretName"),
        ({**EXTERNAL, "server": {"auth": {"enabled": True}}}, "server.auth.existingSecret or server.auth.token"),
        ({**EXTERNAL, "modelRepository": {"source": "pvc"}}, "modelRepository.pvc.claimName"),
        ({**EXTERNAL, "triton": {"enabled": False}}, "server.backend is triton but triton.enabled is false"),
        ({**EXTERNAL, "ingestJob": {"enabled": True}}, "ingestJob.enabled requires ingestJob.volume"),
        ({**EXTERNAL, "server": {"port": "fifty"}}, "port"),
        ({**EXTERNAL, "triton": {"gpus": -1}}, "gpus"),
        ({**EXTERNAL, "server": {"backend": "onnx"}}, "backend"),
        ({**EXTERNAL, "modelRepository": {"source": "s3"}}, "source"),
        ({**EXTERNAL, "podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({**EXTERNAL, "unknownKey": 1}, "unknownKey"),
        ({"externalMilvus": {"uri": "milvus:19530"}}, "uri"),
    ],
    ids=["no-milvus", "gpu-zero-replicas", "tls-no-secret", "auth-no-token", "pvc-no-claim", "triton-off",
         "ingest-no-volume", "port-type", "negative-gpus", "bad-backend", "bad-source", "root", "unknown-key",
         "uri-scheme"],
)
def test_invalid_values_fail_at_render_time(values, message):
    with pytest.raises(Exception) as excinfo:
        render(values)
    assert message in str(excinfo.value)
