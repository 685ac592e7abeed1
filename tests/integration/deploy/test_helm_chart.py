"""The Helm chart in deploy/helm/herald, rendered by real Helm and checked object by object.

No Kubernetes cluster runs here, so each rendered object is checked against the API's object models
instead of an API server: core kinds are read into the ``kubernetes`` client's model classes (which
refuse a missing required field) and written back, and must come back unchanged (a misspelt or
misplaced field is dropped on the way, so it shows as a difference). KEDA's ScaledObject and the
Prometheus operator's ServiceMonitor are checked against JSON schemas of the CRD fields the chart uses,
written from their documented specs. Then what the chart promises: every registered process has a
workload with probes on its port, consumer groups are StatefulSets whose pod name is the instance id and
whose scaling stops at the input's partitions, nothing runs as root, secrets can be brought along.

Helm is built from its Go module by deploy/helm/install-helm.sh (cached; ``make test`` runs it first).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from kubernetes.client import ApiClient

from processors.registry import PROCESSES
from streams.topics import topic_specs

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "deploy" / "helm" / "herald"
INSTALL = ROOT / "deploy" / "helm" / "install-helm.sh"

REQUIRED = {
    "database": {"url": "postgresql+psycopg://herald@postgres:5432/herald"},
    "jwt": {"secret": "a-test-secret-of-at-least-32-characters"},
    "fcm": {"credentials": '{"type": "service_account"}'},
}
MODELS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("v1", "Service"): "V1Service",
    ("v1", "Secret"): "V1Secret",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("batch/v1", "Job"): "V1Job",
    ("batch/v1", "CronJob"): "V1CronJob",
}

DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "pattern": DNS_LABEL, "maxLength": 63}, "labels": STRING_MAP},
}
# keda.sh/v1alpha1 ScaledObject: the spec fields the chart sets (KEDA's "Scaling Deployments, StatefulSets &
# Custom Resources" reference and its kafka scaler's trigger metadata). Trigger metadata is map[string]string.
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"enum": ["Deployment", "StatefulSet"]},
                        "name": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {"type": {"const": "kafka"}, "name": {"type": "string"}, "metadata": STRING_MAP},
                        "if": {"properties": {"type": {"const": "kafka"}}},
                        "then": {
                            "properties": {
                                "metadata": {
                                    "required": ["bootstrapServers", "consumerGroup", "topic", "lagThreshold"],
                                    "properties": {"lagThreshold": {"pattern": "^[0-9]+$"}},
                                }
                            }
                        },
                    },
                },
            },
        },
    },
}
# monitoring.coreos.com/v1 ServiceMonitor: spec.selector (a label selector), spec.jobLabel and the
# endpoints' port (a Service port's name), path and interval (a Prometheus duration), per the operator's API.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": STRING_MAP},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d|w|y))+$"},
                        },
                    },
                },
            },
        },
    },
}
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
}


@pytest.fixture(scope="module")
def helm() -> str:
    done = subprocess.run(["sh", str(INSTALL)], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        message = f"could not build Helm: {done.stderr[-2000:]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return done.stdout.strip().splitlines()[-1]


def render(helm: str, tmp_path: Path, values: dict[str, Any], release: str = "herald") -> list[dict[str, Any]]:
    file = tmp_path / f"values-{len(list(tmp_path.iterdir()))}.json"
    file.write_text(json.dumps(values))
    done = subprocess.run(
        [helm, "template", release, str(CHART), "--namespace", "emr", "-f", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def render_error(helm: str, tmp_path: Path, values: dict[str, Any]) -> str:
    file = tmp_path / "values-failing.json"
    file.write_text(json.dumps(values))
    done = subprocess.run([helm, "template", "herald", str(CHART), "-f", str(file)], capture_output=True, text=True)
    assert done.returncode != 0, "the render should have failed"
    return done.stderr


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workloads by the process they run (the component label)."""
    return {
        o["metadata"]["labels"]["app.kubernetes.io/component"]: o
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet")
    }


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def env_of(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(workload)["env"]}


def model_differences(obj: dict[str, Any]) -> tuple[str, Any]:
    """The object read into its Kubernetes model and written back: (model name, what came back)."""
    name = MODELS[(obj["apiVersion"], obj["kind"])]
    client = ApiClient()
    model = client._ApiClient__deserialize(obj, name)  # type: ignore[attr-defined]
    return name, client.sanitize_for_serialization(model)


@pytest.fixture(scope="module")
def objects(helm, tmp_path_factory) -> list[dict[str, Any]]:
    return render(helm, tmp_path_factory.mktemp("chart"), REQUIRED)


def test_helm_lint_strict_passes_with_the_values_an_operator_must_set(helm, tmp_path):
    file = tmp_path / "values.json"
    file.write_text(json.dumps(REQUIRED))
    done = subprocess.run([helm, "lint", "--strict", str(CHART), "-f", str(file)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_core_object_reads_into_its_kubernetes_model_unchanged(objects):
    core = [o for o in objects if (o["apiVersion"], o["kind"]) in MODELS]
    assert {o["kind"] for o in core} == {
        "Deployment",
        "StatefulSet",
        "Service",
        "Secret",
        "PodDisruptionBudget",
        "Job",
    }
    for obj in core:
        name, back = model_differences(obj)
        assert back == obj, f"{obj['kind']} {obj['metadata']['name']}: fields {name} does not know or lost"


def test_the_model_check_sees_a_misplaced_field_and_a_missing_required_one(objects):
    statefulset = next(o for o in objects if o["kind"] == "StatefulSet")
    misplaced = json.loads(json.dumps(statefulset))
    misplaced["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"httpGet": {"port": "http"}}
    assert model_differences(misplaced)[1] != misplaced
    nameless = json.loads(json.dumps(statefulset))
    del nameless["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        model_differences(nameless)


def test_every_custom_resource_matches_the_schema_of_its_crd_fields(objects):
    custom = [o for o in objects if (o["apiVersion"], o["kind"]) not in MODELS]
    assert {o["kind"] for o in custom} == {"ScaledObject", "ServiceMonitor"}
    for obj in custom:
        validator = jsonschema_rs.validator_for(CRD_SCHEMAS[(obj["apiVersion"], obj["kind"])])
        errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(obj)]
        assert errors == [], f"{obj['kind']} {obj['metadata']['name']}"


def test_the_crd_schemas_refuse_a_kafka_trigger_without_its_group_and_a_numeric_lag_threshold(objects):
    scaled = json.loads(json.dumps(next(o for o in objects if o["kind"] == "ScaledObject")))
    del scaled["spec"]["triggers"][0]["metadata"]["consumerGroup"]
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 1000
    assert len(list(jsonschema_rs.validator_for(SCALED_OBJECT).iter_errors(scaled))) == 2


def test_every_enabled_registered_process_has_one_workload_of_its_kind(objects):
    found = workloads(objects)
    assert set(found) == set(PROCESSES) - {"outbox-relay"}
    for name, workload in found.items():
        assert workload["kind"] == ("StatefulSet" if PROCESSES[name].group else "Deployment"), name
        assert container(workload)["args"] == ["run", name]
        assert workload["metadata"]["name"] == f"herald-{name}"


def test_probes_point_at_the_port_of_each_process(objects):
    for name, workload in workloads(objects).items():
        c = container(workload)
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports == {"http": PROCESSES[name].port}, name
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        assert env_of(workload)[PROCESSES[name].port_setting]["value"] == str(PROCESSES[name].port), name


def test_the_api_listens_beyond_loopback_behind_a_service(objects):
    assert env_of(workloads(objects)["api"])["HERALD_API_HOST"]["value"] == "0.0.0.0"
    service = of_kind(objects, "Service")["herald-api"]
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["targetPort"] == "http"


def test_no_container_runs_as_root(objects):
    pods = workloads(objects) | {"setup": of_kind(objects, "Job")["herald-setup"]}
    for name, workload in pods.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0, name
        for c in pod["containers"] + pod.get("initContainers", []):
            context = c["securityContext"]
            assert context["runAsNonRoot"] is True and context.get("runAsUser", 10001) != 0, name
            assert context["allowPrivilegeEscalation"] is False, name


def test_each_consumer_group_replica_is_a_static_member_named_after_its_pod(objects):
    for name, workload in workloads(objects).items():
        instance = env_of(workload).get("HERALD_INSTANCE_ID")
        if PROCESSES[name].group:
            assert instance == {"name": "HERALD_INSTANCE_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            assert workload["spec"]["serviceName"] == f"herald-{name}"
            assert "replicas" not in workload["spec"], "KEDA owns the replica count"
        else:
            assert instance is None, name


def test_each_consumer_group_scales_on_its_lag_up_to_its_input_partitions(objects):
    partitions = {spec.base: spec.partitions for spec in topic_specs()}
    scaled = of_kind(objects, "ScaledObject")
    groups = {name: p for name, p in PROCESSES.items() if p.group}
    assert set(scaled) == {f"herald-{name}" for name in groups}
    for name, process in groups.items():
        spec = scaled[f"herald-{name}"]["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": f"herald-{name}"}
        (trigger,) = spec["triggers"]
        (topic,) = process.inputs
        assert trigger["metadata"]["consumerGroup"] == f"herald-{process.group}"
        assert trigger["metadata"]["topic"] == f"emr.{topic}"
        assert trigger["metadata"]["bootstrapServers"] == "kafka:9092"
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions[topic], name
    assert scaled["herald-persister"]["spec"]["maxReplicaCount"] == 12
    assert scaled["herald-push-sender"]["spec"]["maxReplicaCount"] == 6


def test_a_max_replicas_set_past_the_partitions_is_capped(helm, tmp_path):
    values = REQUIRED | {"processes": {"push-sender": {"maxReplicas": 40}}}
    spec = of_kind(render(helm, tmp_path, values), "ScaledObject")["herald-push-sender"]["spec"]
    assert spec["maxReplicaCount"] == 6


def test_every_workload_has_a_disruption_budget_and_a_service_that_select_its_pods(objects):
    budgets, services = of_kind(objects, "PodDisruptionBudget"), of_kind(objects, "Service")
    for name, workload in workloads(objects).items():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budgets[f"herald-{name}"]["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        assert budgets[f"herald-{name}"]["spec"]["maxUnavailable"] == 1
        assert services[f"herald-{name}"]["spec"]["selector"].items() <= labels.items(), name


def test_the_service_monitor_scrapes_every_service_under_its_prometheus_job(objects):
    (monitor,) = of_kind(objects, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = of_kind(objects, "Service").values()
    selected = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
    assert len(selected) == len(workloads(objects))
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    for service in selected:
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        component = service["metadata"]["labels"]["app.kubernetes.io/component"]
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == f"herald-{component}"


def test_secrets_are_referenced_and_the_fcm_credentials_mounted_where_the_settings_read_them(objects):
    secrets = of_kind(objects, "Secret")
    assert set(secrets) == {"herald-database", "herald-jwt", "herald-fcm"}
    found = workloads(objects)
    assert env_of(found["persister"])["HERALD_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "herald-database",
        "key": "database-url",
    }
    assert env_of(found["api"])["HERALD_API_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "herald-jwt"
    assert "HERALD_DATABASE_URL" not in env_of(found["lag-exporter"])
    push = found["push-sender"]
    path = env_of(push)["HERALD_FCM_CREDENTIALS"]["value"]
    (mount,) = [m for m in container(push)["volumeMounts"] if m["name"] == "fcm"]
    assert path == f"{mount['mountPath']}/credentials.json"
    (volume,) = [v for v in push["spec"]["template"]["spec"]["volumes"] if v["name"] == "fcm"]
    assert volume["secret"]["secretName"] == "herald-fcm"


def test_existing_secrets_are_used_as_they_are(helm, tmp_path):
    values = {
        "database": {"existingSecret": "emr-db", "key": "url"},
        "jwt": {"existingSecret": "emr-jwt"},
        "fcm": {"existingSecret": "emr-fcm"},
    }
    objects = render(helm, tmp_path, values)
    assert of_kind(objects, "Secret") == {}
    found = workloads(objects)
    assert env_of(found["fanout"])["HERALD_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "emr-db",
        "key": "url",
    }
    assert env_of(found["api"])["HERALD_API_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "emr-jwt"
    (volume,) = [v for v in found["push-sender"]["spec"]["template"]["spec"]["volumes"] if v["name"] == "fcm"]
    assert volume["secret"]["secretName"] == "emr-fcm"


def test_a_missing_database_url_jwt_secret_or_fcm_credentials_fails_the_render_naming_the_value(helm, tmp_path):
    def without(key: str) -> dict[str, Any]:
        return {k: v for k, v in REQUIRED.items() if k != key}

    assert "set database.url or database.existingSecret" in render_error(helm, tmp_path, without("database"))
    assert "set jwt.secret or jwt.existingSecret" in render_error(helm, tmp_path, without("jwt"))
    # Unconfigured, `herald run push-sender` would send to a local emulator (cli/devstack/fcm.py).
    assert "set fcm.credentials or fcm.existingSecret" in render_error(helm, tmp_path, without("fcm"))


def test_an_fcm_endpoint_of_its_own_needs_no_credentials(helm, tmp_path):
    values = {k: v for k, v in REQUIRED.items() if k != "fcm"} | {"fcm": {"endpoint": "http://fcm-proxy:8080"}}
    push = workloads(render(helm, tmp_path, values))["push-sender"]
    assert env_of(push)["HERALD_FCM_ENDPOINT"]["value"] == "http://fcm-proxy:8080"
    assert "HERALD_FCM_CREDENTIALS" not in env_of(push)


def test_resources_default_for_all_and_are_overridden_per_process(helm, tmp_path):
    override = {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    values = REQUIRED | {"processes": {"fanout": {"resources": override}}}
    found = workloads(render(helm, tmp_path, values))
    assert container(found["fanout"])["resources"] == override
    assert container(found["persister"])["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_prefixes_and_settings_from_values_reach_every_process_and_the_triggers(helm, tmp_path):
    values = REQUIRED | {
        "kafka": {"bootstrap": "b1:9092,b2:9092", "topicPrefix": "prod.", "groupPrefix": "h-"},
        "env": [{"name": "HERALD_LOG_LEVEL", "value": "INFO"}],
    }
    objects = render(helm, tmp_path, values)
    for workload in workloads(objects).values():
        env = env_of(workload)
        assert env["HERALD_KAFKA_BOOTSTRAP"]["value"] == "b1:9092,b2:9092"
        assert env["HERALD_TOPIC_PREFIX"]["value"] == "prod." and env["HERALD_GROUP_PREFIX"]["value"] == "h-"
        assert env["HERALD_LOG_LEVEL"]["value"] == "INFO"
    trigger = of_kind(objects, "ScaledObject")["herald-fanout"]["spec"]["triggers"][0]["metadata"]
    assert (trigger["consumerGroup"], trigger["topic"]) == ("h-fanout", "prod.activity-events.v1")


def test_without_keda_the_groups_keep_a_replica_count_and_the_outbox_relay_can_be_turned_on(helm, tmp_path):
    values = REQUIRED | {
        "keda": {"enabled": False},
        "outboxDatabase": {"url": "postgresql://emr@emr-db/emr"},
        "processes": {"outbox-relay": {"enabled": True}, "persister": {"minReplicas": 3}},
    }
    objects = render(helm, tmp_path, values)
    assert of_kind(objects, "ScaledObject") == {}
    found = workloads(objects)
    assert found["persister"]["spec"]["replicas"] == 3
    assert env_of(found["outbox-relay"])["HERALD_OUTBOX_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == (
        "herald-outbox-database"
    )
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in MODELS:
            assert model_differences(obj)[1] == obj


def test_the_setup_job_migrates_then_creates_the_topics_around_installs_and_upgrades(objects):
    job = of_kind(objects, "Job")["herald-setup"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (migrate,) = pod["initContainers"]
    (topics,) = pod["containers"]
    assert migrate["args"] == ["db", "upgrade"] and topics["args"] == ["topics", "create"]
    assert migrate["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "herald-database"
    assert {e["name"]: e.get("value") for e in topics["env"]}["HERALD_TOPIC_PREFIX"] == "emr."
    assert migrate["image"] == topics["image"] == container(workloads(objects)["api"])["image"]


def test_the_lifecycle_process_only_creates_partitions_until_retention_is_turned_on(objects):
    assert "CronJob" not in {o["kind"] for o in objects}
    lifecycle = workloads(objects)["lifecycle"]
    assert lifecycle["kind"] == "Deployment" and lifecycle["spec"]["replicas"] == 1
    assert lifecycle["spec"]["strategy"] == {"type": "Recreate"}  # one upkeep at a time, even while rolling
    c = container(lifecycle)
    assert c["args"] == ["run", "lifecycle"]
    env = env_of(lifecycle)
    assert env["HERALD_LIFECYCLE_RETENTION"]["value"] == "false" and "HERALD_ARCHIVE_DIR" not in env
    assert env["HERALD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "herald-database"
    assert [m["name"] for m in c["volumeMounts"]] == ["tmp"]


def test_with_retention_on_the_lifecycle_process_archives_to_its_claim(helm, tmp_path):
    values = REQUIRED | {
        "lifecycle": {"retention": True, "archiveClaim": "herald-archive"},
        "env": [{"name": "HERALD_RETENTION_BELL_DAYS", "value": "60"}],
    }
    objects = render(helm, tmp_path, values)
    lifecycle = workloads(objects)["lifecycle"]
    name, back = model_differences(lifecycle)
    assert back == lifecycle, f"fields {name} does not know or lost"
    env = env_of(lifecycle)
    assert env["HERALD_LIFECYCLE_RETENTION"]["value"] == "true" and env["HERALD_ARCHIVE_DIR"]["value"] == "/archive"
    # the periods are global: the API, which hides what retention expires, reads the same ones
    assert (
        env["HERALD_RETENTION_BELL_DAYS"]["value"]
        == env_of(workloads(objects)["api"])["HERALD_RETENTION_BELL_DAYS"]["value"]
    )
    assert {"name": "archive", "mountPath": "/archive"} in container(lifecycle)["volumeMounts"]
    pod = lifecycle["spec"]["template"]["spec"]
    assert {"name": "archive", "persistentVolumeClaim": {"claimName": "herald-archive"}} in pod["volumes"]
    assert "archive" not in {v["name"] for v in workloads(objects)["api"]["spec"]["template"]["spec"]["volumes"]}
