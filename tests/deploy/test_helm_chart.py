"""Offline validation of the Helm chart: lint, render every scenario (the bundled Milvus chart included, from the
vendored archive), validate every manifest against the Kubernetes schemas, and check the properties that matter in
production: probes, CPU/GPU Triton, autoscaling signals, load balancing, disruption budgets, Milvus naming."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

helm_chart = pytest.importorskip("helm_python.chart", reason="helm-python-sdk is a dev dependency (make setup)")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "motion-retrieval"
ADAPTER_VALUES = ROOT / "deploy" / "helm" / "prometheus-adapter-values.yaml"
MODEL_REPOSITORY = ROOT / "model_repository"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.33.0"
SCHEMA_VERSION = kubernetes_validate.latest_version()
# Kinds whose schemas are CRDs, not part of Kubernetes' bundled schemas.
CRD_KINDS = {"ServiceMonitor", "PodMonitor"}
EXTERNAL = {"externalMilvus": {"uri": "http://milvus.data.svc:19530"}}
PART_OF = "app.kubernetes.io/part-of"


def render(values: dict, name: str = "mr", namespace: str = "search") -> list[dict]:
    out = helm_chart.Chart.load(str(CHART)).render(values, name=name, namespace=namespace)
    docs = []
    for template, text in sorted(out.items()):
        if template.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def ours(docs: list[dict]) -> list[dict]:
    """The manifests of this chart (not of the Milvus subchart)."""
    return [doc for doc in docs if doc["metadata"].get("labels", {}).get(PART_OF) == "motion-retrieval"]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {[d['metadata']['name'] for d in by_kind(docs, kind)]}"
    return found[0]


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def container_of(docs: list[dict], name: str) -> dict:
    return one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def test_every_scenario_is_covered():
    names = {p.name for p in CI_VALUES}
    assert {"external-milvus-values.yaml", "gpu-pvc-values.yaml", "tls-auth-values.yaml", "ingest-job-values.yaml",
            "bundled-milvus-values.yaml", "bundled-milvus-cluster-values.yaml", "web-values.yaml"} <= names


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_lint_strict(values_file):
    result = helm_chart.lint(str(CHART), load_values(values_file), strict=True, kube_version=KUBE_VERSION)
    assert not result["errors"], result["messages"]


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_manifests_validate_against_kubernetes_schemas(values_file):
    docs = render(load_values(values_file))
    assert ours(docs)
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)
def test_workloads_are_hardened_probed_and_sized(values_file):
    docs = ours(render(load_values(values_file)))
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
    assert config["MOTION_RETRIEVAL_MILVUS_URI"] == "http://milvus.data.svc:19530"
    assert config["MOTION_RETRIEVAL_BACKEND"] == "triton"

    container = container_of(docs, "prod-motion-retrieval-server")
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert int(config["MOTION_RETRIEVAL_PORT"]) == container_ports["grpc"]
    assert int(config["MOTION_RETRIEVAL_METRICS_PORT"]) == container_ports["metrics"]
    assert config["MOTION_RETRIEVAL_METRICS_HOST"] == "0.0.0.0"  # the service binds /metrics to loopback otherwise
    assert container["args"][0] == "serve"
    assert container["envFrom"][0]["configMapRef"]["name"] == "prod-motion-retrieval-server"

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


def test_the_service_balances_over_every_triton_pod():
    """A ClusterIP pins each long-lived gRPC channel to one Triton pod; the chart uses a headless Service and the
    client's DNS resolver with round_robin (contract 4: `--triton-url dns:///HOST:PORT`)."""
    docs = render(load_values(CHART / "ci" / "external-milvus-values.yaml"), name="prod", namespace="motion")
    triton_service = one(docs, "Service", "prod-motion-retrieval-triton")
    assert triton_service["spec"]["clusterIP"] == "None"
    grpc_port = next(p["port"] for p in triton_service["spec"]["ports"] if p["name"] == "grpc")
    url = one(docs, "ConfigMap", "prod-motion-retrieval-server")["data"]["MOTION_RETRIEVAL_TRITON_URL"]
    assert url == f"dns:///prod-motion-retrieval-triton.motion.svc.cluster.local:{grpc_port}"
    # The service's Triton backend turns exactly this URL into a round_robin channel.
    from motion_retrieval_server.backends.triton import service_config

    assert service_config(url, 1)["loadBalancingConfig"] == [{"round_robin": {}}]
    # The cluster's DNS domain is configurable.
    docs = render({**EXTERNAL, "clusterDomain": "k8s.example.org"}, name="prod", namespace="motion")
    url = one(docs, "ConfigMap", "prod-motion-retrieval-server")["data"]["MOTION_RETRIEVAL_TRITON_URL"]
    assert url == "dns:///prod-motion-retrieval-triton.motion.svc.k8s.example.org:8001"


def test_labels_follow_kubernetes_recommendations():
    for doc in render(EXTERNAL):
        labels = doc["metadata"]["labels"]
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                    "app.kubernetes.io/managed-by", PART_OF):
            assert key in labels, (doc["kind"], doc["metadata"]["name"], key)


# --- liveness is not readiness (contract 1) ---------------------------------------------------------------------

def _health_names(probe: dict) -> str:
    """The grpc.health.v1 service name a probe asks for."""
    if "grpc" in probe:
        return probe["grpc"].get("service", "")
    command = probe["exec"]["command"]
    assert command[:3] == ["python", "-m", "motion_retrieval_server.healthcheck"], command
    return command[command.index("--service") + 1] if "--service" in command else ""


@pytest.mark.parametrize("tls", [False, True], ids=["grpc-probes", "tls-exec-probes"])
def test_liveness_watches_the_process_and_readiness_the_backend(tls):
    values = load_values(CHART / "ci" / ("tls-auth-values.yaml" if tls else "external-milvus-values.yaml"))
    container = container_of(render(values), "mr-motion-retrieval-server")
    assert _health_names(container["livenessProbe"]) == "liveness"
    assert _health_names(container["startupProbe"]) == "liveness"
    assert _health_names(container["readinessProbe"]) == ""
    assert ("exec" in container["readinessProbe"]) is tls
    if tls:  # a Python process start per probe needs more than the default 1 s
        assert all(container[p]["timeoutSeconds"] >= 5 for p in ("startupProbe", "livenessProbe", "readinessProbe"))


def test_probe_commands_ask_the_health_service_what_the_chart_means():
    """Serve grpc.health.v1 with the overall status NOT_SERVING (backend down) and `liveness` SERVING, then run the
    chart's exec probes (TLS path) and the equivalent of its native gRPC probes through the healthcheck module: the
    liveness probe passes, the readiness probe fails. Catches a probe asking the wrong name or a flag the checker
    does not know."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    import motion_retrieval_server.healthcheck

    server_ = grpc.server(ThreadPoolExecutor(2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    servicer.set("liveness", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server_)
    port = server_.add_insecure_port("127.0.0.1:0")
    server_.start()
    try:
        def run(probe: dict) -> int:
            if "grpc" in probe:
                argv = ["--service", probe["grpc"].get("service", "")]
            else:  # drop TLS: the probe's flags are what is under test, not the certificate
                argv = list(probe["exec"]["command"][3:])
                for flag in ("--tls-ca", "--server-name"):
                    index = argv.index(flag)
                    del argv[index:index + 2]
            argv = [a for a in argv if not a.startswith("localhost:")]
            if "--target" in argv:
                argv.remove("--target")
            return motion_retrieval_server.healthcheck.main(argv + ["--target", f"127.0.0.1:{port}", "--timeout", "2"])

        for values in (EXTERNAL, load_values(CHART / "ci" / "tls-auth-values.yaml")):
            container = container_of(render(values), "mr-motion-retrieval-server")
            assert run(container["livenessProbe"]) == 0
            assert run(container["startupProbe"]) == 0
            assert run(container["readinessProbe"]) == 1
    finally:
        server_.stop(0)


# --- Triton on CPU or GPU (contract 2) -----------------------------------------------------------------------------

def _model_config(path: Path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _instance_kinds(config) -> set[str]:
    from tritonclient.grpc import model_config_pb2

    return {model_config_pb2.ModelInstanceGroup.Kind.Name(group.kind) for group in config.instance_group}


def test_cpu_triton_renders_nothing_gpu_related():
    docs = render(EXTERNAL)
    triton = one(docs, "Deployment", "mr-motion-retrieval-triton")
    pod = triton["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert not [a for a in args if a.startswith("--model-config-name")]
    assert "nvidia.com/gpu" not in json.dumps(docs)
    assert "nodeSelector" not in pod and "tolerations" not in pod


def test_gpu_triton_selects_the_gpu_configs_and_gpu_nodes():
    values = {**EXTERNAL, "triton": {"gpus": 2, "gpuNodeSelector": {"nvidia.com/gpu.present": "true"},
                                     "nodeSelector": {"pool": "inference"},
                                     "tolerations": [{"key": "dedicated", "operator": "Exists"}]}}
    pod = one(render(values), "Deployment", "mr-motion-retrieval-triton")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--model-config-name=gpu" in container["args"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 2
    assert pod["nodeSelector"] == {"pool": "inference", "nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert {"key": "dedicated", "operator": "Exists"} in pod["tolerations"]


@pytest.mark.parametrize("gpus", [0, 1], ids=["cpu", "gpu"])
def test_the_config_triton_loads_matches_the_devices_it_gets(gpus):
    """Ties the chart to the exported repository: with the flags the chart passes, Triton loads, for every model,
    a config whose instance kind is what the pod has (KIND_CPU without GPUs; KIND_GPU with them). Triton's rule:
    `--model-config-name=NAME` loads `<model>/configs/NAME.pbtxt`, falling back to `config.pbtxt` when absent."""
    args = container_of(render({**EXTERNAL, "triton": {"gpus": gpus}}), "mr-motion-retrieval-triton")["args"]
    names = [a.split("=", 1)[1] for a in args if a.startswith("--model-config-name=")]
    models = sorted(p.parent for p in MODEL_REPOSITORY.glob("*/config.pbtxt"))
    assert models, f"no models in {MODEL_REPOSITORY}"
    for model in models:
        chosen = model / "config.pbtxt"
        if names and (model / "configs" / f"{names[0]}.pbtxt").is_file():
            chosen = model / "configs" / f"{names[0]}.pbtxt"
        kinds = _instance_kinds(_model_config(chosen))
        expected = "KIND_GPU" if gpus else "KIND_CPU"
        assert kinds == {expected}, f"{chosen.relative_to(ROOT)} has {kinds}; a pod with {gpus} GPU(s) needs {expected}"


# tritonserver:YY.MM-py3 is built on the NGC PyTorch YY.MM container (Triton release notes: "Refer to the YY.MM column
# of the Frameworks Support Matrix"); its torch per the NGC PyTorch release notes / Frameworks Support Matrix.
TRITON_LIBTORCH = {
    "24.08-py3": "2.5.0a0",
    "26.06-py3": "2.13.0a0",
    "26.07-py3": "2.13.0a0",
    "26.08-py3": "2.14.0a0",
}


def _release(version: str) -> tuple:
    """Orderable torch version: 2.13.0a0 (a main-branch snapshot before 2.13.0) sorts below 2.13.0."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(a0)?", version)
    assert match, version
    major, minor, patch, pre = match.groups()
    return int(major), int(minor), int(patch or 0), 0 if pre else 1


def _exporting_torch() -> str:
    info = json.loads((MODEL_REPOSITORY / "motion_retrieval.json").read_text())
    for path in (("torch_version",), ("exported_with", "torch"), ("export", "torch_version"), ("torch", "version")):
        value = info
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    pytest.fail("model_repository/motion_retrieval.json does not record the torch version that exported it")


def test_triton_image_loads_what_export_writes():
    """TorchScript loads forward (older file, newer libtorch) only: the pinned Triton's libtorch must not predate
    the torch that exported the shipped repository."""
    tag = load_values(CHART / "values.yaml")["triton"]["image"]["tag"]
    assert tag in TRITON_LIBTORCH, f"triton.image.tag {tag}: add its libtorch version (NGC support matrix) here"
    exporting = _exporting_torch()
    assert _release(TRITON_LIBTORCH[tag]) >= _release(exporting), (
        f"tritonserver:{tag} carries libtorch {TRITON_LIBTORCH[tag]}, older than the exporting torch {exporting}")


def test_the_baked_triton_image_is_the_one_the_chart_runs():
    """deploy/docker/model.Dockerfile (target triton, modelRepository.source: image) bakes the repository into a
    Triton image: it must start from the same, libtorch-checked release."""
    image = load_values(CHART / "values.yaml")["triton"]["image"]
    dockerfile = (ROOT / "deploy" / "docker" / "model.Dockerfile").read_text()
    baked = re.search(r"^ARG TRITON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert baked, "model.Dockerfile no longer names its Triton base image in ARG TRITON_IMAGE"
    assert baked.group(1) == f"{image['repository']}:{image['tag']}"


def test_gpu_triton_with_pvc_repository():
    docs = render(load_values(CHART / "ci" / "gpu-pvc-values.yaml"))
    triton = one(docs, "Deployment", "mr-motion-retrieval-triton")
    pod = triton["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert "initContainers" not in pod
    volume = next(v for v in pod["volumes"] if v["name"] == "model-repository")
    assert volume["persistentVolumeClaim"] == {"claimName": "motion-models", "readOnly": True}
    assert "--model-repository=/models" in container["args"]
    # The startup probe leaves room for model load: at least 5 minutes.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert "replicas" not in triton["spec"]  # the HPA owns the replica count
    assert one(docs, "HorizontalPodAutoscaler", "mr-motion-retrieval-triton")["spec"]["minReplicas"] == 2


# --- autoscaling signals ------------------------------------------------------------------------------------------

def _hpa_metrics(docs: list[dict], component: str) -> dict[str, dict]:
    hpa = one(docs, "HorizontalPodAutoscaler", f"mr-motion-retrieval-{component}")
    result = {}
    for metric in hpa["spec"]["metrics"]:
        if metric["type"] == "Pods":
            result[metric["pods"]["metric"]["name"]] = metric["pods"]["target"]
        else:
            result[metric["resource"]["name"]] = metric["resource"]["target"]
    return result


def test_gpu_triton_scales_on_queue_time_when_a_custom_metrics_adapter_is_declared():
    docs = render(load_values(CHART / "ci" / "gpu-pvc-values.yaml"))
    metrics = _hpa_metrics(docs, "triton")
    assert set(metrics) == {"avg_time_queue_us"}  # CPU says nothing about a busy GPU
    assert metrics["avg_time_queue_us"] == {"type": "AverageValue", "averageValue": "10000"}
    assert set(_hpa_metrics(docs, "server")) == {"motion_retrieval_queue_depth", "cpu"}


@pytest.mark.parametrize("declared", ["auto", False], ids=["auto-without-cluster", "declared-absent"])
def test_without_a_custom_metrics_api_everything_falls_back_to_cpu(declared):
    values = {**EXTERNAL, "triton": {"gpus": 1, "autoscaling": {"enabled": True}},
              "metrics": {"customMetricsApi": declared}}
    docs = render(values)  # offline: Helm sees no custom.metrics.k8s.io, as on a cluster without an adapter
    assert _hpa_metrics(docs, "triton") == {"cpu": {"type": "Utilization", "averageUtilization": 70}}
    assert set(_hpa_metrics(docs, "server")) == {"cpu"}


def test_cpu_triton_scales_on_queue_time_and_cpu():
    values = {**EXTERNAL, "triton": {"gpus": 0, "autoscaling": {"enabled": True}},
              "metrics": {"customMetricsApi": True}}
    assert set(_hpa_metrics(render(values), "triton")) == {"avg_time_queue_us", "cpu"}


def test_hpa_metric_names_are_served_by_the_adapter_rules():
    """The names the HPAs ask for are exactly those the prometheus-adapter rules publish, from the series Triton
    (nv_inference_queue_duration_us per request) and the service (motion_retrieval_queue_depth) export."""
    rules = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"]
    published = {rule["name"]["as"]: rule for rule in rules}
    values = load_values(CHART / "values.yaml")
    triton_name = values["triton"]["autoscaling"]["queueTime"]["metricName"]
    server_name = values["server"]["autoscaling"]["queueDepth"]["metricName"]
    assert {triton_name, server_name} <= set(published)
    assert "nv_inference_queue_duration_us" in published[triton_name]["metricsQuery"]
    assert "nv_inference_request_success" in published[triton_name]["metricsQuery"]  # per request, not a raw sum
    assert "motion_retrieval_queue_depth" in published[server_name]["seriesQuery"]
    for rule in rules:  # Pods metrics need the series mapped onto pods
        assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
        assert "<<.LabelMatchers>>" in rule["metricsQuery"] and "<<.GroupBy>>" in rule["metricsQuery"]


# --- disruption budgets ----------------------------------------------------------------------------------------------

def test_a_single_replica_never_blocks_a_node_drain():
    values = {**EXTERNAL, "server": {"replicaCount": 1, "autoscaling": {"enabled": False}},
              "triton": {"replicaCount": 1}}
    docs = render(values)
    for component in ("server", "triton"):
        spec = one(docs, "PodDisruptionBudget", f"mr-motion-retrieval-{component}")["spec"]
        assert spec.get("maxUnavailable") == 1 and "minAvailable" not in spec, spec


def test_min_available_is_allowed_only_below_the_replica_count():
    values = {**EXTERNAL, "triton": {"replicaCount": 3, "pdb": {"minAvailable": 2}}}
    spec = one(render(values), "PodDisruptionBudget", "mr-motion-retrieval-triton")["spec"]
    assert spec["minAvailable"] == 2 and "maxUnavailable" not in spec
    with pytest.raises(Exception, match="blocks every node drain"):
        render({**EXTERNAL, "triton": {"replicaCount": 1, "pdb": {"minAvailable": 1}}})
    with pytest.raises(Exception, match="server.pdb.minAvailable is 2 with 2 replica"):
        render({**EXTERNAL, "server": {"pdb": {"minAvailable": 2}}})  # the HPA's minReplicas is 2


# --- secrets as files (contract 5) -----------------------------------------------------------------------------------

def test_tokens_reach_the_service_as_files_never_as_argv_or_env():
    values = {**load_values(CHART / "ci" / "tls-auth-values.yaml"),
              "externalMilvus": {"uri": "http://milvus.data.svc:19530", "existingSecret": "milvus-credentials",
                                 "key": "milvus-token"}}
    docs = render(values)
    pod = one(docs, "Deployment", "mr-motion-retrieval-server")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert not [e for e in container["env"] if "TOKEN" in e["name"]], container["env"]
    assert "s3cret-token" not in json.dumps(container)
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for flag, secret, key in (("--milvus-token-file=", "milvus-credentials", "milvus-token"),
                              ("--auth-token-file=", "mr-motion-retrieval-auth", "token")):
        path = next(a for a in container["args"] if a.startswith(flag)).split("=", 1)[1]
        directory, filename = path.rsplit("/", 1)
        volume = volumes[mounts[directory]]["secret"]
        assert volume["secretName"] == secret
        assert {"key": key, "path": filename} in volume["items"]
    # The ingest Job reads the same Secret as a file too (`ingest` takes MOTION_RETRIEVAL_MILVUS_TOKEN_FILE).
    job_values = {**values, "ingestJob": {"enabled": True, "volume": {"emptyDir": {}}}}
    job_pod = by_kind(render(job_values), "Job")[0]["spec"]["template"]["spec"]
    job = job_pod["containers"][0]
    path = next(e["value"] for e in job["env"] if e["name"] == "MOTION_RETRIEVAL_MILVUS_TOKEN_FILE")
    directory, filename = path.rsplit("/", 1)
    mount = next(m for m in job["volumeMounts"] if m["mountPath"] == directory)
    volume = next(v for v in job_pod["volumes"] if v["name"] == mount["name"])["secret"]
    assert volume["secretName"] == "milvus-credentials" and {"key": "milvus-token", "path": filename} in volume["items"]
    assert not [e for e in job["env"] if "valueFrom" in e]
    # The chart-created auth Secret holds the token; changing it rolls the pods.
    assert "token" in one(docs, "Secret", "mr-motion-retrieval-auth")["data"]
    assert "checksum/auth" in one(docs, "Deployment", "mr-motion-retrieval-server")["spec"]["template"]["metadata"][
        "annotations"]


def test_the_service_command_line_is_one_serve_accepts():
    from motion_retrieval.cli import build_parser

    values = {**load_values(CHART / "ci" / "tls-auth-values.yaml"),
              "externalMilvus": {"uri": "http://milvus.data.svc:19530", "existingSecret": "milvus-credentials"}}
    args = build_parser().parse_args(container_of(render(values), "mr-motion-retrieval-server")["args"])
    assert args.command == "serve"
    assert str(args.milvus_token_file) == "/etc/motion-retrieval/milvus/token"
    assert str(args.auth_token_file) == "/etc/motion-retrieval/auth/token"


def test_tls_and_auth_are_wired():
    docs = render(load_values(CHART / "ci" / "tls-auth-values.yaml"))
    pod = one(docs, "Deployment", "mr-motion-retrieval-server")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    config = one(docs, "ConfigMap", "mr-motion-retrieval-server")["data"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "tls")
    assert config["MOTION_RETRIEVAL_TLS_CERT"].startswith(mount["mountPath"] + "/")
    assert next(v for v in pod["volumes"] if v["name"] == "tls")["secret"]["secretName"] == "motion-retrieval-tls"
    policy = one(docs, "NetworkPolicy", "mr-motion-retrieval-server")
    allowed = [{"podSelector": {"matchLabels": {"motion-retrieval/client": "true"}}}]
    assert policy["spec"]["ingress"][0]["from"] == allowed
    assert len(by_kind(docs, "ServiceMonitor")) == 2


# --- the search page (web.enabled) ---------------------------------------------------------------------------------

def test_the_web_page_is_off_by_default():
    docs = render(EXTERNAL)
    assert not [d for d in docs if d["metadata"]["name"].endswith("-web")]


def test_the_web_page_runs_our_cli_with_the_search_only_token():
    from motion_retrieval.cli import build_parser

    docs = render(load_values(CHART / "ci" / "web-values.yaml"))
    web = one(docs, "Deployment", "mr-motion-retrieval-web")
    pod = web["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = build_parser().parse_args(container["args"])
    assert args.command == "web"
    assert args.server == "mr-motion-retrieval-server.search.svc.cluster.local:50051"
    assert (args.host, args.port) == ("0.0.0.0", 8080)
    # The token file is the search-only key of the auth Secret, never the full-access one; never argv or env.
    directory, filename = str(args.token_file).rsplit("/", 1)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == directory)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])["secret"]
    assert volume["secretName"] == "mr-motion-retrieval-auth"
    assert volume["items"] == [{"key": "search-token", "path": filename}]
    assert "s3cret-token" not in json.dumps(web) and "s3arch-only-token" not in json.dumps(web)
    secret = one(docs, "Secret", "mr-motion-retrieval-auth")["data"]
    assert {"token", "search-token"} <= set(secret) and secret["token"] != secret["search-token"]
    # The service accepts that token as search-only.
    server = container_of(docs, "mr-motion-retrieval-server")
    serve = build_parser().parse_args(server["args"])
    assert str(serve.search_token_file) == "/etc/motion-retrieval/auth/search-token"
    # TLS towards the service with the service's certificate.
    assert str(args.server_ca).endswith("/tls.crt") and args.server_name == "mr-motion-retrieval-server"
    # Probes: liveness is the process, readiness the service behind it.
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # The service's security defaults.
    values = load_values(CHART / "values.yaml")
    assert pod["securityContext"] == values["podSecurityContext"]
    assert container["securityContext"] == values["securityContext"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_the_web_page_is_reachable_and_reaches_the_service():
    docs = render(load_values(CHART / "ci" / "web-values.yaml"))
    selector = one(docs, "Deployment", "mr-motion-retrieval-web")["spec"]["selector"]["matchLabels"]
    service = one(docs, "Service", "mr-motion-retrieval-web")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    ingress = one(docs, "Ingress", "mr-motion-retrieval-web")["spec"]
    assert ingress["ingressClassName"] == "nginx" and ingress["tls"][0]["secretName"] == "motion-search-tls"
    rule = ingress["rules"][0]
    assert rule["host"] == "motion-search.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "mr-motion-retrieval-web",
                                                               "port": {"name": "http"}}
    allowed = one(docs, "NetworkPolicy", "mr-motion-retrieval-server")["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": selector}} in allowed


def test_the_web_page_without_auth_needs_no_token():
    docs = render({**EXTERNAL, "web": {"enabled": True}})
    container = container_of(docs, "mr-motion-retrieval-web")
    assert not [a for a in container["args"] if a.startswith("--token-file")]
    assert not by_kind(docs, "Ingress")


def test_ingest_job_and_torchscript_only_service():
    docs = render(load_values(CHART / "ci" / "ingest-job-values.yaml"))
    assert not [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-triton")]
    assert not [d for d in by_kind(docs, "Service") if d["metadata"]["name"].endswith("-triton")]
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
    # ... and runs a command line `motion-retrieval ingest` accepts.
    from motion_retrieval.cli import build_parser

    # (Kubernetes expands the pod's JOB_COMPLETION_INDEX in the args: the Job is Indexed, one shard per pod.)
    args = build_parser().parse_args([a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in container["args"]])
    assert args.command == "ingest" and str(args.shard) == "0/1"


# --- the bundled Milvus ----------------------------------------------------------------------------------------------

def test_vendored_milvus_chart_is_the_locked_release():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    lock = yaml.safe_load((CHART / "Chart.lock").read_text())
    (dependency,) = meta["dependencies"]
    (locked,) = lock["dependencies"]
    assert (locked["name"], locked["version"], locked["repository"]) == (
        dependency["name"], dependency["version"], dependency["repository"])
    # Helm's own digest of (Chart.yaml dependencies, Chart.lock dependencies): `helm dependency build` refuses a
    # lock out of sync with Chart.yaml.
    def go_dependency(d: dict) -> dict:
        out = {"name": d["name"], "version": d["version"], "repository": d["repository"]}
        out.update({k: d[k] for k in ("condition", "tags", "alias") if d.get(k)})
        return out

    payload = json.dumps([[go_dependency(d) for d in meta["dependencies"]],
                          [go_dependency(d) for d in lock["dependencies"]]], separators=(",", ":"))
    assert lock["digest"] == "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
    archive = CHART / "charts" / f"milvus-{dependency['version']}.tgz"
    assert [p.name for p in (CHART / "charts").iterdir()] == [archive.name]
    assert archive.stat().st_size < 1024 * 1024, "vendor the packaged chart, not a repository"
    with tarfile.open(archive) as tar:
        chart_yaml = yaml.safe_load(tar.extractfile("milvus/Chart.yaml").read())
        licence = tar.extractfile("milvus/LICENSE").read().decode()
    assert chart_yaml["version"] == dependency["version"]
    assert "Apache License" in licence and "Version 2.0" in licence
    assert helm_chart.dependency_list(str(CHART))[0]["status"] == "ok"


def test_bundled_milvus_is_really_standalone():
    docs = render(load_values(CHART / "ci" / "bundled-milvus-values.yaml"), name="demo", namespace="ml")
    subchart = [d for d in docs if d not in ours(docs)]
    names = " ".join(d["metadata"]["name"] for d in subchart)
    for absent in ("pulsar", "kafka", "zookeeper", "bookie", "broker", "proxy", "querynode", "datanode", "coord"):
        assert absent not in names, f"standalone Milvus renders {absent}: {names}"
    assert one(docs, "Deployment", "demo-milvus-standalone")
    assert one(docs, "StatefulSet", "demo-etcd")["spec"]["replicas"] == 1
    assert one(docs, "Deployment", "demo-minio")  # MinIO standalone is a Deployment, distributed a StatefulSet
    assert not [d for d in by_kind(docs, "StatefulSet") if d["metadata"]["name"] == "demo-minio"]
    milvus_config = one(docs, "ConfigMap", "demo-milvus")["data"]
    assert "type: rocksmq" in " ".join(milvus_config.values())


def test_bundled_milvus_distributed_brings_its_message_queue():
    docs = render(load_values(CHART / "ci" / "bundled-milvus-cluster-values.yaml"), name="demo", namespace="ml")
    names = {d["metadata"]["name"] for d in docs}
    assert {"demo-milvus-proxy", "demo-milvus-querynode", "demo-pulsarv3-broker"} <= names
    assert one(docs, "StatefulSet", "demo-etcd")["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    "release, overrides",
    [
        ("demo", {}),
        ("milvus", {}),                       # the subchart uses the release name alone when it contains "milvus"
        ("search-milvus-prod", {}),
        ("a-very-long-release-name-for-the-motion-retrieval-team-2026", {}),  # truncated at 63, no trailing "-"
        ("demo", {"nameOverride": "vectors"}),
        ("demo", {"fullnameOverride": "shared-vector-db"}),
    ],
    ids=["plain", "is-milvus", "contains-milvus", "long", "name-override", "fullname-override"],
)
def test_bundled_milvus_address_follows_the_subchart_naming(release, overrides):
    values = {"milvus": {"enabled": True, **overrides}}
    docs = render(values, name=release, namespace="ml")
    (config,) = by_kind(ours(docs), "ConfigMap")
    uri = config["data"]["MOTION_RETRIEVAL_MILVUS_URI"]
    services = [d for d in by_kind(docs, "Service")
                if any(p["port"] == 19530 for p in d["spec"]["ports"]) and d not in ours(docs)]
    assert len(services) == 1, [s["metadata"]["name"] for s in services]
    host = services[0]["metadata"]["name"]
    assert len(host) <= 63 and not host.endswith("-")
    assert uri == f"http://{host}.ml.svc.cluster.local:19530"


# --- invalid values -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "externalMilvus.uri is required"),
        ({**EXTERNAL, "triton": {"gpus": 1, "replicaCount": 0}}, "triton.replicaCount is 0"),
        ({**EXTERNAL, "server": {"tls": {"enabled": True}}}, "server.tls.secretName"),
        ({**EXTERNAL, "server": {"auth": {"enabled": True}}}, "server.auth.existingSecret or server.auth.token"),
        ({**EXTERNAL, "server": {"auth": {"enabled": True, "token": "t"}}, "web": {"enabled": True}},
         "web.enabled with server.auth.enabled needs a search-only token"),
        ({**EXTERNAL, "server": {"auth": {"enabled": True, "token": "t", "searchToken": "t"}}},
         "searchToken must differ"),
        ({**EXTERNAL, "web": {"enabled": True, "port": 0}}, "port"),
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
        ({**EXTERNAL, "server": {"pdb": {"maxUnavailable": 0}}}, "maxUnavailable"),
        ({**EXTERNAL, "triton": {"replicaCount": 1, "pdb": {"minAvailable": 1}}},
         "triton.pdb.minAvailable is 1 with 1 replica(s)"),
        ({**EXTERNAL, "metrics": {"customMetricsApi": "yes"}}, "customMetricsApi"),
        ({**EXTERNAL, "triton": {"autoscaling": {"queueTime": {"targetAverageMicroseconds": 0}}}},
         "targetAverageMicroseconds"),
        ({**EXTERNAL, "triton": {"gpuNodeSelector": {"nvidia.com/gpu.present": True}}}, "gpuNodeSelector"),
        ({**EXTERNAL, "triton": {"image": {"tag": ""}}}, "tag"),
        ({**EXTERNAL, "clusterDomain": "Cluster Local"}, "clusterDomain"),
        ({"milvus": {"enabled": True, "cluster": {"enabled": True}}}, "needs a message queue"),
        ({"milvus": {"enabled": True, "standalone": {"messageQueue": "kafka"}}},
         "milvus.standalone.messageQueue is kafka but no kafka is enabled"),
    ],
    ids=["no-milvus", "gpu-zero-replicas", "tls-no-secret", "auth-no-token", "web-no-search-token",
         "search-token-is-full", "web-port", "pvc-no-claim", "triton-off",
         "ingest-no-volume", "port-type", "negative-gpus", "bad-backend", "bad-source", "root", "unknown-key",
         "uri-scheme", "pdb-zero", "pdb-blocks-drain", "custom-metrics-word", "queue-target-zero",
         "gpu-selector-type", "empty-triton-tag", "cluster-domain", "milvus-cluster-no-mq", "milvus-standalone-mq"],
)
def test_invalid_values_fail_at_render_time(values, message):
    with pytest.raises(Exception) as excinfo:
        render(values)
    assert message in str(excinfo.value)


def test_tracing_is_off_unless_an_otel_endpoint_is_given():
    from motion_retrieval_server.config import resolve_config

    quiet = one(render(EXTERNAL), "ConfigMap", "mr-motion-retrieval-server")["data"]
    assert "MOTION_RETRIEVAL_OTEL_ENDPOINT" not in quiet
    endpoint = "http://otel-collector.observability:4317"
    traced = one(render({**EXTERNAL, "server": {"otelEndpoint": endpoint}}), "ConfigMap",
                 "mr-motion-retrieval-server")["data"]
    assert traced["MOTION_RETRIEVAL_OTEL_ENDPOINT"] == endpoint
    assert resolve_config(environ={"MOTION_RETRIEVAL_OTEL_ENDPOINT": endpoint}).otel_endpoint == endpoint  # serve's
    with pytest.raises(Exception, match="otelEndpoint"):
        render({**EXTERNAL, "server": {"otelEndpoint": "collector:4317"}})  # the schema asks for a URL


def test_torch_threads_reach_serve_only_when_set():
    from motion_retrieval_server.config import add_serve_arguments, resolve_config

    def serve_args(values: dict) -> list[str]:
        deployment = one(render(values), "Deployment", "mr-motion-retrieval-server")
        return deployment["spec"]["template"]["spec"]["containers"][0]["args"]

    assert not any(arg.startswith("--torch-threads") for arg in serve_args(EXTERNAL))  # torch's default
    args = serve_args({**EXTERNAL, "server": {"torchThreads": 1}})
    assert "--torch-threads=1" in args
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    assert resolve_config(parser.parse_args(args[1:]), environ={}).torch_threads == 1  # serve reads what we render
    with pytest.raises(Exception, match="torchThreads"):
        render({**EXTERNAL, "server": {"torchThreads": -1}})
