"""Discovery documents, legacy and aggregated, as a real apiserver serves them."""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.resources import Registry, ResourceDef

VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-devcluster",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}

AGGREGATED = {"v2": "apidiscovery.k8s.io/v2", "v2beta1": "apidiscovery.k8s.io/v2beta1"}
# Subresources that are not the parent's kind read and written (get, patch, update): their verbs, and the
# group, version and kind they answer with when it is not the parent's.
SUBRESOURCES: dict[str, tuple[list[str], tuple[str, str, str] | None]] = {
    "finalize": (["update"], None),
    "log": (["get"], None),
    "token": (["create"], ("authentication.k8s.io", "v1", "TokenRequest")),
}


def _subresource(resource: ResourceDef, sub: str) -> tuple[list[str], dict[str, str]]:
    """(verbs, {group, version, kind}) of one subresource."""
    verbs, kind = SUBRESOURCES.get(sub, (["get", "patch", "update"], None))
    group, version, name = kind or (resource.group, resource.version, resource.kind)
    return verbs, {"group": group, "version": version, "kind": name}


def aggregated_version(accept: str) -> str | None:
    """The aggregated discovery version the Accept header asks for first, if any."""
    for media in accept.split(","):
        parts = [p.strip() for p in media.split(";")]
        if parts[0] not in ("application/json", "*/*"):
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in AGGREGATED:
                return params["v"]
        elif parts[0] == "application/json" and not params:
            return None
    return None


def _legacy_entries(resource: ResourceDef) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.categories:
        main["categories"] = list(resource.categories)
    if not resource.virtual:
        main["storageVersionHash"] = resource.storage_version_hash
    entries = [main]
    for sub in resource.subresources:
        verbs, kind = _subresource(resource, sub)
        entry: dict[str, Any] = {"name": f"{resource.plural}/{sub}", "singularName": "",
                                 "namespaced": resource.namespaced}
        if (kind["group"], kind["version"]) != (resource.group, resource.version):
            entry["group"], entry["version"] = kind["group"], kind["version"]
        entries.append({**entry, "kind": kind["kind"], "verbs": verbs})
    return entries


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = registry.in_group_version(group, version)
    if not resources:
        return None
    body: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        body["apiVersion"] = "v1"
    body["groupVersion"] = f"{group}/{version}" if group else version
    body["resources"] = [e for r in sorted(resources, key=lambda r: r.plural) for e in _legacy_entries(r)]
    return body


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in registry.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = registry.group_versions().get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _aggregated_resource(resource: ResourceDef) -> dict[str, Any]:
    kind = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": kind,
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    if resource.subresources:
        entry["subresources"] = []
        for sub in resource.subresources:
            verbs, response_kind = _subresource(resource, sub)
            entry["subresources"].append({"subresource": sub, "responseKind": response_kind, "verbs": verbs})
    return entry


def aggregated(registry: Registry, core: bool, version: str) -> dict[str, Any]:
    """APIGroupDiscoveryList for `/api` (core) or `/apis` (every named group)."""
    items = []
    for group, versions in registry.group_versions().items():
        if bool(group) == core:
            continue
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _aggregated_resource(r)
                            for r in sorted(registry.in_group_version(group, v), key=lambda r: r.plural)
                        ],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {"kind": "APIGroupDiscoveryList", "apiVersion": AGGREGATED[version], "metadata": {}, "items": items}


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
