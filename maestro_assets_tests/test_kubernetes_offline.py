"""Kubernetes, offline (no cluster, no chart repository): Maestro's own chart
(deploy/helm/maestro-platform) rendered by Helm's Go SDK (helm-python-sdk) with its defaults, with
production-like values and with Redis + Celery workers, linted, and every manifest validated against
the Kubernetes API schemas that kubernetes-validate bundles (strict: an unknown field fails); and the
values we give the official Dagster chart (deploy/helm/values.yaml, and values-celery.yaml over it)
checked for the keys that chart reads."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from maestro_assets.lib.compose import compose_services
from maestro_assets.platform_topology import COMPOSE_FILE

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "maestro-platform"
DAGSTER_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
DAGSTER_CELERY_VALUES = ROOT / "deploy" / "helm" / "values-celery.yaml"
KUBERNETES_VERSION = "1.33.0"  # a version kubernetes-validate bundles, pinned so a new release changes nothing
PRODUCTION = {
    "image": {"repository": "registry.example.com/maestro", "tag": "2026.12.03", "pullPolicy": "Always"},
    "secretName": "maestro-prod-env",
    "env": {"MAESTRO_LAKE_URL": "s3://maestro-prod/lake", "MAESTRO_DEMO_SCALE": 0.5, "AWS_REGION": "eu-west-1"},
    "mlflow": {"artifactsDestination": "s3://maestro-prod/mlflow"},
    "metricsExporter": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}},
    "cronJob": {"enabled": True, "schedule": "15 4 * * *", "args": ["demo", "--scale", "0.01"]},
}

CELERY = {"redis": {"host": "redis-master.maestro.svc"}, "celeryWorker": {"enabled": True, "replicas": 3}}


def render(values: dict | None = None, name: str = "maestro") -> list[dict]:
    chart = helm.Chart.load(CHART)
    rendered = chart.render(values, name=name, namespace="maestro", is_install=True)
    return [doc for text in rendered.values() for doc in yaml.safe_load_all(text) if doc]


def by_kind(manifests: list[dict]) -> dict[tuple[str, str], dict]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def containers(manifest: dict) -> list[dict]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"]


@pytest.mark.parametrize("values", [None, PRODUCTION, CELERY], ids=["defaults", "production", "celery"])
def test_the_chart_lints_and_every_manifest_is_valid_kubernetes(values):
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBERNETES_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []  # warnings and errors
    manifests = render(values)
    assert manifests
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)  # raises on any schema error


def test_defaults_render_the_config_the_mlflow_server_and_the_metrics_exporter():
    manifests = by_kind(render())
    assert set(manifests) == {
        ("ConfigMap", "maestro-config"),
        ("Deployment", "maestro-mlflow"),
        ("Service", "maestro-mlflow"),
        ("Deployment", "maestro-metrics-exporter"),
        ("Service", "maestro-metrics-exporter"),
    }  # no CronJob unless asked, and never a Secret: credentials are only referenced
    assert manifests["ConfigMap", "maestro-config"]["data"]["MAESTRO_LAKE_URL"] == "s3://maestro/lake"

    (exporter,) = containers(manifests["Deployment", "maestro-metrics-exporter"])
    assert exporter["command"] == ["maestro", "metrics-exporter", "--port", "9108"]
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9108}]
    assert manifests["Service", "maestro-metrics-exporter"]["spec"]["ports"][0]["port"] == 9108
    assert exporter["envFrom"] == [
        {"configMapRef": {"name": "maestro-config"}},
        {"secretRef": {"name": "maestro-env"}},
    ]

    (mlflow,) = containers(manifests["Deployment", "maestro-mlflow"])
    assert mlflow["command"] == ["mlflow", "server"]
    assert "--backend-store-uri=$(MLFLOW_BACKEND_STORE_URI)" in mlflow["args"]
    assert mlflow["env"] == [
        {
            "name": "MLFLOW_BACKEND_STORE_URI",
            "valueFrom": {"secretKeyRef": {"name": "maestro-env", "key": "MLFLOW_BACKEND_STORE_URI"}},
        }
    ]
    service = manifests["Service", "maestro-mlflow"]["spec"]
    assert service["selector"] == manifests["Deployment", "maestro-mlflow"]["spec"]["selector"]["matchLabels"]


def test_production_values_reach_every_container_and_add_the_cron_job():
    manifests = by_kind(render(PRODUCTION))
    assert not any(kind == "Secret" for kind, _ in manifests)
    config = manifests["ConfigMap", "maestro-config"]["data"]
    assert config == {"MAESTRO_HOME": "/tmp/maestro", **{k: str(v) for k, v in PRODUCTION["env"].items()}}
    workloads = [m for m in manifests.values() if m["kind"] in ("Deployment", "CronJob")]
    assert len(workloads) == 3
    for workload in workloads:
        for container in containers(workload):
            assert container["image"] == "registry.example.com/maestro:2026.12.03"
            assert {"secretRef": {"name": "maestro-prod-env"}} in container["envFrom"]
    cron = manifests["CronJob", "maestro-cron"]
    assert cron["spec"]["schedule"] == "15 4 * * *"
    assert containers(cron)[0]["args"] == ["demo", "--scale", "0.01"]


def test_redis_settings_and_celery_workers_run_the_compose_worker_command():
    manifests = by_kind(render(CELERY))
    config = manifests["ConfigMap", "maestro-config"]["data"]
    assert config["MAESTRO_FEAST_REDIS"] == "redis-master.maestro.svc:6379"
    assert config["MAESTRO_CELERY_BROKER_URL"] == "redis://redis-master.maestro.svc:6379/1"
    assert config["MAESTRO_CELERY_BACKEND_URL"] == "redis://redis-master.maestro.svc:6379/2"
    worker = manifests["Deployment", "maestro-celery-worker"]
    assert worker["spec"]["replicas"] == 3
    (container,) = containers(worker)
    compose = compose_services(COMPOSE_FILE, {"POSTGRES_PASSWORD": "-", "S3_ACCESS_KEY": "-", "S3_SECRET_KEY": "-"})
    service = compose["celery-worker"]
    names = {
        service.environment[name]: f"$({name})" for name in ("MAESTRO_CELERY_BROKER_URL", "MAESTRO_CELERY_BACKEND_URL")
    }
    assert container["command"] + container["args"] == [names.get(word, word) for word in service.argv]
    assert {"configMapRef": {"name": "maestro-config"}} in container["envFrom"]  # where $(…) comes from
    # without a host nothing is set (a Redis with a password: the Secret holds the three)
    assert "MAESTRO_FEAST_REDIS" not in by_kind(render())["ConfigMap", "maestro-config"]["data"]
    # a key of env: wins over the derived one
    mine = by_kind(render({**CELERY, "env": {"MAESTRO_FEAST_REDIS": "other:6380"}}))["ConfigMap", "maestro-config"]
    assert mine["data"]["MAESTRO_FEAST_REDIS"] == "other:6380"


def test_the_validator_refuses_a_manifest_kubernetes_would_refuse():
    """What the validation above is worth: a bad value that still renders is caught."""
    manifests = by_kind(render({"metricsExporter": {"port": "nine-one-oh-eight"}}))
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifests["Service", "maestro-metrics-exporter"], KUBERNETES_VERSION, strict=True)
    deployment = manifests["Deployment", "maestro-mlflow"]
    deployment["spec"]["template"]["spec"]["containers"][0]["envFromm"] = []  # an unknown field: strict refuses it
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_values_for_the_official_dagster_chart_use_the_keys_it_reads():
    """deploy/helm/values.yaml is for the official chart (dagster-io/dagster, helm/dagster): its keys
    are documented in that repository's helm/dagster/values.yaml and typed by the pydantic models
    under helm/dagster/schema/schema/charts/ (DagsterHelmValues: `dagster-user-deployments`,
    `runLauncher`, `postgresql`, `generatePostgresqlPasswordSecret`, `global.postgresqlSecretName`,
    `dagsterDaemon.runCoordinator`). The chart cannot be downloaded here, so this checks the shape
    of the keys we set against that documentation."""
    values = yaml.safe_load(DAGSTER_VALUES.read_text())

    user = values["dagster-user-deployments"]
    assert user["enabled"] is True
    (deployment,) = user["deployments"]
    assert set(deployment["image"]) == {"repository", "tag", "pullPolicy"}
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "maestro_assets.definitions"]
    assert isinstance(deployment["port"], int)
    assert deployment["envSecrets"] == [{"name": "maestro-env"}]  # a reference: no secret value in the file
    env = {e["name"]: e["value"] for e in deployment["env"]}  # the chart's list form of env
    assert env["MAESTRO_LAKE_URL"].startswith("s3://") and "MLFLOW_TRACKING_URI" in env
    assert not any(word in name for name in env for word in ("PASSWORD", "SECRET", "WAREHOUSE_URL"))
    # MLflow is maestro-platform's Service, released as README.md installs it (`maestro-platform`, namespace maestro)
    mlflow = by_kind(render(name="maestro-platform"))["Service", "maestro-platform-mlflow"]
    assert (
        env["MLFLOW_TRACKING_URI"]
        == f"http://{mlflow['metadata']['name']}.maestro.svc:{mlflow['spec']['ports'][0]['port']}"
    )

    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == [{"name": "maestro-env"}]
    assert set(launcher["config"]["k8sRunLauncher"]["runK8sConfig"]) <= {
        "containerConfig",
        "podSpecConfig",
        "podTemplateSpecMetadata",
        "jobSpecConfig",
        "jobMetadata",
    }

    postgres = values["postgresql"]
    assert postgres["enabled"] is False  # an external database, its password in an existing secret
    assert {"postgresqlHost", "postgresqlUsername", "postgresqlDatabase"} <= set(postgres)
    assert "postgresqlPassword" not in postgres
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"

    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert isinstance(queued["maxConcurrentRuns"], int)
    assert all({"key", "limit"} <= set(limit) for limit in queued["tagConcurrencyLimits"])


def deep_merge(base: dict, over: dict) -> dict:
    """Values files given one after another (`-f a -f b`), as Helm merges them: maps key by key."""
    merged = dict(base)
    for key, value in over.items():
        merged[key] = (
            deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def test_the_celery_values_for_the_official_chart_use_the_keys_it_reads():
    """values-celery.yaml over values.yaml: the chart's CeleryK8sRunLauncher (its pydantic models
    CeleryK8sRunLauncherConfig and CeleryWorkerQueue under helm/dagster/schema/, and Redis of its
    redis subschema) with Redis as broker and backend instead of the chart's RabbitMQ."""
    base, celery = (yaml.safe_load(path.read_text()) for path in (DAGSTER_VALUES, DAGSTER_CELERY_VALUES))
    values = deep_merge(base, celery)
    launcher = values["runLauncher"]
    assert base["runLauncher"]["type"] == "K8sRunLauncher" and launcher["type"] == "CeleryK8sRunLauncher"
    config = launcher["config"]["celeryK8sRunLauncher"]
    assert set(config) <= {
        "image", "imagePullPolicy", "nameOverride", "configSource", "workerQueues", "env", "envConfigMaps",
        "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations", "podSecurityContext",
        "securityContext", "resources", "livenessProbe", "volumeMounts", "volumes", "labels",
        "failPodOnRunFailure", "schedulerName", "jobNamespace",
    }  # fmt: skip
    assert config["envSecrets"] == [{"name": "maestro-env"}]
    queues = config["workerQueues"]
    assert "dagster" in {q["name"] for q in queues}  # the queue steps go to by default
    for queue in queues:
        assert set(queue) <= {"name", "replicaCount", "labels", "nodeSelector", "configSource", "additionalCeleryArgs"}
        assert isinstance(queue["replicaCount"], int) and queue["replicaCount"] > 0
    redis = values["redis"]
    assert set(redis) <= {
        "enabled", "internal", "usePassword", "password", "host", "port", "brokerDbNumber", "backendDbNumber",
        "brokerUrl", "backendUrl",
    }  # fmt: skip
    assert redis["enabled"] is True and redis["host"] and isinstance(redis["port"], int)
    assert "password" not in redis  # a password belongs in a values file outside the repository
    assert values["rabbitmq"]["enabled"] is False  # one broker
    # Feast and Celery share the Redis: its database 0 is Feast's, the others Celery's
    assert {redis["brokerDbNumber"], redis["backendDbNumber"]} == {1, 2}
    env = {e["name"]: e["value"] for e in values["dagster-user-deployments"]["deployments"][0]["env"]}
    assert env["MAESTRO_FEAST_REDIS"] == f"{redis['host']}:{redis['port']}"
    assert env["MAESTRO_FEATURE_REPO"] == "/opt/maestro/feature_repo_production"  # the Dockerfile's
