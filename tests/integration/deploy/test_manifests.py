"""deploy/ is checked, not just written: Kubernetes manifests against the Kubernetes schemas
(kubernetes-validate), the compose file against the Compose specification (the schema
check-jsonschema vendors), the NATS configs by nats-server itself, the gateway's routes against
the services' real routes. The secured cluster is run for real in test_secured_cluster.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from fastapi import FastAPI
from typer.testing import CliRunner

from deploy.tools.nats_auth import SERVICES, RegionSecrets
from services.cli import app
from shared import claims, sealed
from shared.auth import Actor, OrgPath, Role
from shared.bus import edge_stream_config
from shared.contracts import API_PREFIXES, NAMES, SOURCES
from shared.forwarding import first_segment
from shared.nats_server import nats_server_binary
from shared.signing import Keyring
from tests.integration.deploy.conftest import (
    DEPLOY,
    MUNICIPALITIES,
    authorization_users,
    issue,
    lay_out_hub,
    lay_out_leaf,
    read_env,
)

KUBERNETES = DEPLOY / "kubernetes"
BENCHMARKS = DEPLOY.parent / "docs" / "benchmarks.md"
KUBERNETES_VERSION = "1.33.0"
#: Kustomize input, not cluster objects.
NOT_MANIFESTS = {"kustomization.yaml", "nats-values.yaml"}
#: Custom resources of the operators we rely on: no schema in kubernetes-validate, checked below.
CUSTOM = {"postgresql.cnpg.io/v1"}
#: What `nastavnik serve` runs: the four services and the portal. Only the portal has no database.
APPS = tuple(SERVICES)
WITH_DATABASE = tuple(SOURCES)


def manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name in NOT_MANIFESTS:
            continue
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document:
                found.append((f"{path.name}#{index}", document))
    return found


MANIFESTS = manifests()


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for _, m in MANIFESTS if m["kind"] == kind}


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


# --- Kubernetes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "manifest"), [m for m in MANIFESTS if m[1]["apiVersion"] not in CUSTOM],
                         ids=[m[0] for m in MANIFESTS if m[1]["apiVersion"] not in CUSTOM])
def test_every_kubernetes_manifest_is_valid_against_the_kubernetes_schema(
        name: str, manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_the_validator_really_rejects_a_broken_manifest() -> None:
    deployment = of_kind("Deployment")["registry"]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_uses_the_official_nats_chart_and_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    (chart,) = kustomization["helmCharts"]
    assert chart["name"] == "nats"
    assert chart["repo"] == "https://nats-io.github.io/k8s/helm/charts/"
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - NOT_MANIFESTS
    assert listed == on_disk
    (gateway,) = kustomization["configMapGenerator"]
    assert gateway["files"] == ["default.conf=gateway.conf"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not installed")
def test_kustomize_builds_the_region_and_wires_the_generated_gateway_config(tmp_path: Path) -> None:
    copy = shutil.copytree(KUBERNETES, tmp_path / "kubernetes")
    kustomization = yaml.safe_load((copy / "kustomization.yaml").read_text())
    del kustomization["helmCharts"]  # helm is not here to inflate the chart; its values are checked below
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = subprocess.run(["kubectl", "kustomize", str(copy)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]
    assert all(o["metadata"].get("namespace", "nastavnik") == "nastavnik" for o in objects)
    (config_map,) = [o for o in objects if o["metadata"]["name"].startswith("nastavnik-gateway-")]
    assert "location" in config_map["data"]["default.conf"]
    (gateway,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"]
    volumes = {v["name"]: v for v in gateway["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]


def test_nats_chart_values_three_nodes_jetstream_on_files_and_credentials_from_a_secret() -> None:
    values = yaml.safe_load((KUBERNETES / "nats-values.yaml").read_text())
    config = values["config"]
    assert config["cluster"]["enabled"] is True and config["cluster"]["replicas"] == 3
    assert config["jetstream"]["enabled"] is True
    assert config["jetstream"]["fileStore"]["enabled"] is True
    assert config["jetstream"]["memoryStore"]["enabled"] is False
    assert config["jetstream"]["merge"]["domain"] == "hub"
    assert config["leafnodes"]["enabled"] is True and config["leafnodes"]["tls"]["enabled"] is True
    # The chart's nats.conf lives in /etc/nats-config; the Secret is mounted beside it.
    assert config["merge"]["$include"] == "../nats-auth/auth.conf"
    # Included last in the cluster block, so its routes (with credentials) replace the chart's.
    assert config["cluster"]["merge"] == {"zzz$include": "../nats-auth/routes.conf"}
    (mount,) = [p["value"] for p in values["container"]["patch"] if p["path"] == "/volumeMounts/-"]
    (volume,) = [p["value"] for p in values["podTemplate"]["patch"] if p["path"] == "/spec/volumes/-"]
    assert mount == {"name": "nats-auth", "mountPath": "/etc/nats-auth", "readOnly": True}
    assert volume == {"name": "nats-auth", "secret": {"secretName": "nastavnik-nats-auth"}}
    assert values["natsBox"]["enabled"] is False  # it would connect without credentials
    assert "no_auth_user" not in json.dumps(values)


def test_postgres_is_a_cloudnativepg_cluster_with_replicas_backups_and_a_schema_per_service() -> None:
    clusters = [m for _, m in MANIFESTS
                if m["apiVersion"] == "postgresql.cnpg.io/v1" and m["kind"] == "Cluster"]
    (cluster,) = clusters
    spec = cluster["spec"]
    assert spec["instances"] >= 3
    assert spec["storage"]["size"]
    assert spec["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    assert spec["backup"]["barmanObjectStore"]["wal"]  # continuous WAL archive: point-in-time recovery
    backups = [m for _, m in MANIFESTS if m["kind"] == "ScheduledBackup"]
    assert backups and backups[0]["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    expected = [f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION nastavnik" for s in WITH_DATABASE]
    assert spec["bootstrap"]["initdb"]["postInitApplicationSQL"] == expected
    compose_sql = [line.rstrip(";") for line in (DEPLOY / "postgres" / "schemas.sql").read_text().splitlines()
                   if line.startswith("CREATE")]
    assert compose_sql == expected


def the_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


@pytest.mark.parametrize("name", APPS)
def test_every_service_runs_two_locked_down_replicas_with_truthful_probes(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    container = the_container(deployment)
    assert container["args"] == ["nastavnik", "serve", name]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert pod["automountServiceAccountToken"] is False
    # With a read-only root, whatever the process writes goes to volumes.
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/lib/nastavnik", "/tmp"} <= mounted
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    assert name in of_kind("Service") and name in of_kind("PodDisruptionBudget")


@pytest.mark.parametrize("name", APPS)
def test_every_service_gets_its_own_nats_user_and_its_own_schema(name: str) -> None:
    container = the_container(of_kind("Deployment")[name])
    sources = [next(iter(e.values()))["name"] for e in container["envFrom"]]
    assert sources == ["nastavnik-config", f"nastavnik-nats-{name}"]
    env = {e["name"]: e for e in container["env"]}
    assert "NASTAVNIK_NATS_PASSWORD" not in env  # only from the Secret
    assert env["NASTAVNIK_TOKEN_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "nastavnik-token"
    if name in WITH_DATABASE:
        assert env["NASTAVNIK_DATABASE_URL"]["value"].endswith(f"?schema={name}")
    else:
        assert "NASTAVNIK_DATABASE_URL" not in env
        assert env["NASTAVNIK_PORTAL_API_URL"]["value"] == "http://gateway:8080"
    config = of_kind("ConfigMap")["nastavnik-config"]["data"]
    assert config["NASTAVNIK_NATS_URL"].count("nats://") == 3
    assert config["NASTAVNIK_STREAM_REPLICAS"] == "3"
    assert int(config["NASTAVNIK_DB_POOL_SIZE"]) > 0


def mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * (1024 if unit == "Gi" else 1)


def test_memory_requests_cover_the_peaks_measured_in_the_benchmarks() -> None:
    # The rows of the latest figures: | `peak_rss_mb_<service>` | <MB> | ...
    peaks = {name: int(mb) for name, mb in
             re.findall(r"^\| `peak_rss_mb_(\w+)` \| (\d+) \|", BENCHMARKS.read_text(), re.MULTILINE)}
    assert set(peaks) == {"registry", "pairing", "monitoring", "documents"}, peaks
    for name, megabytes in peaks.items():
        request = the_container(of_kind("Deployment")[name])["resources"]["requests"]["memory"]
        assert mebibytes(request) * 1.048576 > megabytes, (name, request, megabytes)


def test_network_policies_deny_by_default_and_select_pods_that_exist() -> None:
    policies = of_kind("NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    labels = [d["spec"]["template"]["metadata"]["labels"] for d in of_kind("Deployment").values()]
    for app_name in APPS:
        pod = of_kind("Deployment")[app_name]["spec"]["template"]["metadata"]["labels"]
        assert pod["nastavnik.io/nats-client"] == "true"
        assert ("nastavnik.io/postgres-client" in pod) == (app_name in WITH_DATABASE)
    for selector in ({"nastavnik.io/gateway-client": "true"}, {"app.kubernetes.io/name": "gateway"}):
        assert any(selector.items() <= pod.items() for pod in labels)
    # The services take HTTP only from the gateway (and Prometheus), never from each other.
    (from_gateway, _prometheus) = policies["services"]["spec"]["ingress"][0]["from"]
    assert from_gateway == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}


# --- the gateway --------------------------------------------------------------------------------

def gateway_routes() -> list[tuple[re.Pattern[str], str]]:
    text = (KUBERNETES / "gateway.conf").read_text()
    return [(re.compile(pattern), upstream)
            for pattern, upstream in re.findall(r"location ~ (\S+)\s+\{ proxy_pass http://(\w+); \}", text)]


def routed_to(path: str) -> str:
    """nginx order for this file: regular-expression locations in order, then ``location /``."""
    return next((upstream for pattern, upstream in gateway_routes() if pattern.search(path)), "portal")


def api_paths(router: Any) -> set[str]:
    holder = FastAPI()
    holder.include_router(router)
    return set(holder.openapi()["paths"])


def route_paths(router: Any, prefix: str = "") -> set[str]:
    """Every path a router serves, included routers too (its pages are not in the OpenAPI schema)."""
    paths: set[str] = set()
    for route in router.routes:
        if hasattr(route, "path"):
            paths.add(prefix + route.path)
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers as they are
            paths |= route_paths(route.original_router, prefix + route.include_context.prefix)
    return paths


def test_the_gateway_sends_every_api_route_to_its_service_and_the_rest_to_the_portal() -> None:
    from services.documents.runtime import DocumentsRuntime
    from services.monitoring.runtime import audit_router, dashboards_router
    from services.pairing.runtime import PairingRuntime
    from services.portal.runtime import PortalRuntime
    from services.registry.runtime import RegistryRuntime

    apis = {"registry": api_paths(RegistryRuntime.router), "pairing": api_paths(PairingRuntime.router),
            "documents": api_paths(DocumentsRuntime.router),
            "monitoring": api_paths(audit_router) | api_paths(dashboards_router)}
    assert len(gateway_routes()) >= 4
    for service, paths in apis.items():
        assert paths
        assert {p: routed_to(p) for p in paths} == dict.fromkeys(paths, service)
    pages = route_paths(PortalRuntime.router)
    assert "/auditor" in pages
    assert {p: routed_to(p) for p in pages} == dict.fromkeys(pages, "portal")
    # `nastavnik up` routes the same way to the services it runs in processes of their own.
    owner = {prefix: service for service, prefixes in API_PREFIXES.items() for prefix in prefixes}
    for service, paths in apis.items():
        assert {p: owner.get(first_segment(p)) for p in paths} == dict.fromkeys(paths, service)
    assert {p: owner.get(first_segment(p)) for p in pages} == dict.fromkeys(pages)
    text = (KUBERNETES / "gateway.conf").read_text()
    assert "location ~ ^/(metrics|health|ready|live)$ { return 404; }" in text


# --- compose ------------------------------------------------------------------------------------

def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return dict(json.loads(vendor.joinpath("compose-spec.json").read_text()))


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    spec = compose()
    jsonschema.validate(spec, compose_schema())
    broken = json.loads(json.dumps(spec))
    broken["services"]["registry"]["replicaz"] = 2  # a typo the schema must catch
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_compose_has_three_nats_nodes_postgres_every_service_in_two_replicas_and_the_gateway() -> None:
    services = compose()["services"]
    assert {"nats-1", "nats-2", "nats-3", "postgres", "gateway"} <= set(services)
    apps = {name: s for name, s in services.items() if s.get("command", [None])[0] == "nastavnik"}
    assert set(apps) == set(APPS)
    for name, service in apps.items():
        assert service["command"] == ["nastavnik", "serve", name]
        assert service["deploy"]["replicas"] == 2
        check = " ".join(service["healthcheck"]["test"])
        assert "'live', 'ready'" in check and "urlopen" in check
        assert service["read_only"] is True and service["user"] == "10001:10001"
        env = service["environment"]
        assert env["NASTAVNIK_NATS_URL"].count("nats://") == 3
        assert env["NASTAVNIK_STREAM_REPLICAS"] == "3"
        assert int(env["NASTAVNIK_DB_POOL_SIZE"]) > 0
        # Its NATS user from a file outside the repository; no password written here.
        assert service["env_file"] == [f"${{NASTAVNIK_SECRETS:?set NASTAVNIK_SECRETS}}/services/{name}.env"]
        assert "NASTAVNIK_NATS_PASSWORD" not in env and "NASTAVNIK_NATS_USER" not in env
        if name in WITH_DATABASE:
            assert env["NASTAVNIK_DATABASE_URL"].endswith(f"?schema={name}")
        else:
            assert "NASTAVNIK_DATABASE_URL" not in env
            assert env["NASTAVNIK_PORTAL_API_URL"] == "http://gateway:8080"
    assert services["documents"]["build"]["target"] == "documents"  # LibreOffice for PDF


def test_compose_has_no_default_password_and_mounts_the_nats_credentials() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for variable in ("POSTGRES_PASSWORD", "TOKEN_SECRET", "NASTAVNIK_SECRETS"):
        uses = re.findall(r"\$\{" + variable + r"(:[?-])?", text)
        assert uses and set(uses) == {":?"}, variable  # required, never defaulted
    assert "change-me" not in text and "no_auth_user" not in text
    spec = compose()
    for node in ("nats-1", "nats-2", "nats-3"):
        targets = {s["source"]: s["target"] for s in spec["services"][node]["secrets"]}
        assert targets == {"nats-auth": "/etc/nats/auth.conf", "nats-routes": "/etc/nats/routes.conf"}
    assert spec["secrets"]["nats-auth"]["file"].endswith("/hub/auth.conf")


# --- NATS configuration and credentials ---------------------------------------------------------

def check_config(config: Path, env: dict[str, str]) -> None:
    result = subprocess.run([str(nats_server_binary()), "-t", "-c", str(config)],
                            env={**os.environ, **env}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cluster_conf_is_accepted_by_nats_server_with_the_generated_credentials(
        region_secrets: RegionSecrets, tmp_path: Path) -> None:
    check_config(lay_out_hub(region_secrets, tmp_path), {"SERVER_NAME": "nats-1"})
    # Without the credentials beside it the node does not start: no silent anonymous fallback.
    (tmp_path / "auth.conf").unlink()
    with pytest.raises(AssertionError, match="auth.conf"):
        check_config(tmp_path / "cluster.conf", {"SERVER_NAME": "nats-1"})


@pytest.mark.parametrize("municipality", MUNICIPALITIES)
def test_leaf_conf_is_accepted_by_nats_server_with_the_municipality_credentials(
        region_secrets: RegionSecrets, tmp_path: Path, municipality: str) -> None:
    laid = lay_out_leaf(region_secrets, municipality, tmp_path)
    assert laid.env["LEAF_DOMAIN"] == municipality
    assert json.loads(laid.env["LEAF_HUB_URLS"])[0].startswith(f"tls://leaf-demo-{municipality}:")
    check_config(laid.config, laid.env)


def test_nats_configs_require_a_user_and_have_no_anonymous_user() -> None:
    for name in ("cluster.conf", "leaf.conf"):
        text = (DEPLOY / "nats" / name).read_text()
        assert 'include "auth.conf"' in text
        # Neither an anonymous user nor credentials written inline (comments aside).
        assert not re.search(r"^\s*(no_auth_user|user|password)\s*:", text, re.MULTILINE)


def test_every_generated_user_has_permissions_and_a_connection_type(region_secrets: RegionSecrets) -> None:
    confs = [region_secrets.hub / "auth.conf",
             *(region_secrets.leaf(m) / "auth.conf" for m in MUNICIPALITIES)]
    for conf in confs:
        assert "no_auth_user" not in conf.read_text()
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        for user in authorization_users(conf):
            assert user["permissions"]["publish"]["allow"], user["user"]
            assert user["permissions"]["subscribe"]["allow"], user["user"]
            assert user["allowed_connection_types"] in (["STANDARD"], ["LEAFNODE"])
            assert ">" not in user["permissions"]["publish"]["allow"]
            assert len(user["password"]) >= 24
    hub = {u["user"]: u for u in authorization_users(region_secrets.hub / "auth.conf")}
    assert {f"svc-{s}" for s in SERVICES} | {"ops"} <= set(hub)
    for code in MUNICIPALITIES:
        leaf = hub[f"leaf-demo-{code}"]
        assert leaf["allowed_connection_types"] == ["LEAFNODE"]
        # Only its own domain's JetStream API crosses to it; no event subject crosses at all.
        assert leaf["permissions"]["subscribe"]["allow"] == [f"$JS.{code}.API.>", "$JS.FC.>"]
        everything = leaf["permissions"]["publish"]["allow"] + leaf["permissions"]["subscribe"]["allow"]
        assert not any(s.startswith("nastavnik") for s in everything)
    # A service's env file names its own user, with the password the server knows.
    for service in SERVICES:
        env = read_env(region_secrets.service_env(service))
        assert hub[env["NASTAVNIK_NATS_USER"]]["password"] == env["NASTAVNIK_NATS_PASSWORD"]
    assert "nastavnik.audit.heads" in hub["svc-monitoring"]["permissions"]["publish"]["allow"]


def test_regenerating_keeps_passwords_and_secrets_stay_out_of_the_repository(
        region_secrets: RegionSecrets, tmp_path: Path) -> None:
    first = issue(tmp_path / "region")
    before = read_env(first.service_env("registry"))
    again = issue(tmp_path / "region", "--municipality", "m-new")
    assert read_env(again.service_env("registry")) == before
    assert (again.leaf("m-new") / "leaf.env").exists()
    refused = CliRunner().invoke(app, ["nats-auth", "--out", str(DEPLOY / "secrets"), "--region", "demo"])
    assert refused.exit_code != 0 and not (DEPLOY / "secrets").exists()


def test_each_service_is_handed_only_its_own_keys_and_they_work_together(
        region_secrets: RegionSecrets, tmp_path: Path) -> None:
    """Events and requests between services are signed, replies sealed: in a distributed
    deployment every service must hold the same public keys, and only its own private ones."""
    folders = {holder: region_secrets.keys(holder) for holder in (*SOURCES, "portal")}
    held = {holder: Keyring.load(folder) for holder, folder in folders.items()}
    for holder, keyring in held.items():
        mine = [holder] if holder in SOURCES else []
        assert sorted(keyring.private) == mine and sorted(keyring.exchange_private) == mine
        assert sorted(keyring.public) == sorted(SOURCES)
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folders[holder].glob("*.key"))
    # The documents service asks the registry for names: the claim it signs verifies there, and
    # the registry's sealed reply opens only with the documents service's own key.
    curator = Actor(user="c", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1"))
    request = claims.mint(held["documents"], "documents", "registry", curator)
    assert claims.verify(held["registry"], NAMES, request, seen=None).actor == curator
    context = sealed.context_of(NAMES.subject, request["actor"]["jti"])
    reply = sealed.seal(held["registry"], "registry", "documents", b'{"people": {}}', context)
    assert sealed.open_sealed(held["documents"], "registry", "documents", reply, context) == \
        b'{"people": {}}'
    with pytest.raises(LookupError):
        claims.mint(held["pairing"], "documents", "registry", curator)  # not pairing's to sign
    # A second run keeps the keys (rotating them would orphan every signed stream).
    first = issue(tmp_path / "region")
    before = (first.keys("registry") / "registry.key").read_text()
    again = issue(tmp_path / "region", "--municipality", "m-new")
    assert (again.keys("registry") / "registry.key").read_text() == before
    # Compose mounts each service's folder read-only where the service looks for its keys.
    spec = compose()
    for service in ("registry", "pairing", "monitoring", "documents", "portal"):
        assert f"${{NASTAVNIK_SECRETS:?set NASTAVNIK_SECRETS}}/keys/{service}:/etc/nastavnik/keys:ro" \
            in spec["services"][service]["volumes"], service
        assert spec["services"][service]["environment"]["NASTAVNIK_EVENT_KEYS_DIR"] == \
            "/etc/nastavnik/keys"
        deployment = next(d for d in yaml.safe_load_all(
            (DEPLOY / "kubernetes" / f"{service}.yaml").read_text()) if d["kind"] == "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        assert {"name": "service-keys", "secret": {"secretName": f"nastavnik-keys-{service}",
                                                   "defaultMode": 0o440}} in pod["volumes"]
        assert {"name": "service-keys", "mountPath": "/etc/nastavnik/keys", "readOnly": True} \
            in pod["containers"][0]["volumeMounts"]


def test_edge_stream_example_matches_what_the_code_declares() -> None:
    example = json.loads((DEPLOY / "nats" / "edge-stream.json").read_text())
    declared = edge_stream_config("registry", "m-ozersk", replicas=3)
    assert example["name"] == declared.name
    assert example["num_replicas"] == declared.num_replicas
    (source,) = declared.sources or []
    assert example["sources"] == [{"name": source.name, "external": {"api": source.external.api}}]
    assert example["duplicate_window"] == int((declared.duplicate_window or 0) * 1e9)
