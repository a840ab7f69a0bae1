"""Route status: traffic resolved in spec order, URLs from config-domain, problems as conditions.

While a traffic target cannot be resolved (missing, foreign or unready revision) the Route
keeps serving its last good `status.traffic`, as Knative does.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from app.devcluster.apiserver.resources import CONFIGMAP
from app.devcluster.controllers import conditions
from app.devcluster.controllers.context import Context
from app.devcluster.controllers.labels import LABEL_SERVICE, LABEL_VISIBILITY
from app.devcluster.crds.resources import CONFIGURATION, REVISION, ROUTE

CLUSTER_LOCAL_DOMAIN = "svc.cluster.local"
DEFAULT_DOMAIN_TEMPLATE = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
DEFAULT_TAG_TEMPLATE = "{{.Tag}}-{{.Name}}"


class TrafficFailure(Exception):
    def __init__(self, status: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def _template(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: values.get(m.group(1), ""), text)


def domain_for(ctx: Context, route: dict[str, Any]) -> str:
    """config-domain's domain for this route's labels; cluster-local when the route asks for it."""
    labels = route["metadata"].get("labels") or {}
    if labels.get(LABEL_VISIBILITY) == "cluster-local":
        return CLUSTER_LOCAL_DOMAIN
    config = ctx.get(CONFIGMAP, "knative-serving", "config-domain")
    best, best_score = CLUSTER_LOCAL_DOMAIN, -1
    for domain, selector_text in sorted(((config or {}).get("data") or {}).items()):
        if domain.startswith("_"):
            continue
        selector: dict[str, str] = {}
        if selector_text and selector_text.strip():
            try:
                parsed = yaml.safe_load(selector_text) or {}
            except yaml.YAMLError:
                continue
            selector = (parsed.get("selector") or {}) if isinstance(parsed, dict) else {}
        if all(labels.get(k) == v for k, v in selector.items()) and len(selector) > best_score:
            best, best_score = domain, len(selector)
    return best


def _network(ctx: Context) -> dict[str, str]:
    config = ctx.get(CONFIGMAP, "knative-serving", "config-network")
    return (config or {}).get("data") or {}


def host_for(ctx: Context, route: dict[str, Any], tag: str = "") -> str:
    meta = route["metadata"]
    network = _network(ctx)
    name = meta["name"]
    if tag:
        name = _template(network.get("tag-template") or DEFAULT_TAG_TEMPLATE, {"Tag": tag, "Name": name})
    domain = domain_for(ctx, route)
    if domain == CLUSTER_LOCAL_DOMAIN:
        return f"{name}.{meta['namespace']}.{CLUSTER_LOCAL_DOMAIN}"
    template = network.get("domain-template") or DEFAULT_DOMAIN_TEMPLATE
    return _template(template, {"Name": name, "Namespace": meta["namespace"], "Domain": domain})


def _check_host(host: str) -> None:
    label = host.split(".", 1)[0]
    if len(label) > 63:
        raise TrafficFailure(
            "False", "ErrorConfig",
            f'domain name error: invalid domain name "{host}": url: Invalid value: "{label}": must be no more '
            "than 63 characters",
        )


def _pinned(ctx: Context, route: dict[str, Any], name: str) -> str:
    namespace = route["metadata"]["namespace"]
    revision = ctx.get(REVISION, namespace, name)
    if revision is None:
        raise TrafficFailure("False", "RevisionMissing", f'Revision "{name}" referenced in traffic not found.')
    service = (route["metadata"].get("labels") or {}).get(LABEL_SERVICE)
    if service:
        owner = (revision["metadata"].get("labels") or {}).get(LABEL_SERVICE)
        if owner and owner != service:
            raise TrafficFailure("False", "RevisionNotOwned",
                                 f'Revision "{name}" belongs to Service "{owner}", not Service "{service}".')
        if not owner:
            raise TrafficFailure("False", "RevisionNotOwned",
                                 f'Revision "{name}" does not belong to Service "{service}".')
    state = conditions.status_of(revision)
    if state == "False":
        raise TrafficFailure("False", "RevisionMissing", f'Revision "{name}" failed to become ready.')
    if state != "True":
        raise TrafficFailure("Unknown", "RevisionMissing", f'Revision "{name}" is not yet ready.')
    return name


def _floating(ctx: Context, route: dict[str, Any], name: str) -> str:
    configuration = ctx.get(CONFIGURATION, route["metadata"]["namespace"], name)
    if configuration is None:
        raise TrafficFailure(
            "False", "ConfigurationMissing", f'Configuration "{name}" referenced in traffic not found.'
        )
    latest = (configuration.get("status") or {}).get("latestReadyRevisionName")
    if latest and ctx.get(REVISION, route["metadata"]["namespace"], latest) is not None:
        return str(latest)
    if conditions.status_of(configuration) == "False":
        raise TrafficFailure("False", "RevisionMissing", f'Configuration "{name}" does not have any ready Revision.')
    raise TrafficFailure("Unknown", "RevisionMissing",
                         f'Configuration "{name}" is waiting for a Revision to become ready.')


def resolve(ctx: Context, route: dict[str, Any]) -> list[dict[str, Any]]:
    """status.traffic for the route's spec: concrete revisions, identical entries merged."""
    _check_host(host_for(ctx, route))
    resolved: list[tuple[dict[str, Any], str, bool]] = []
    failure: TrafficFailure | None = None
    for target in (route.get("spec") or {}).get("traffic") or []:
        try:
            if target.get("revisionName"):
                resolved.append((target, _pinned(ctx, route, target["revisionName"]),
                                 bool(target.get("latestRevision", False))))
            else:
                resolved.append((target, _floating(ctx, route, target.get("configurationName", "")),
                                 bool(target.get("latestRevision", True))))
        except TrafficFailure as error:
            # Like Knative, look at every target: a failure (False) outweighs a target that is only
            # still starting (Unknown), whatever their order.
            if failure is None or error.status == "False":
                failure = error
    if failure is not None:
        raise failure
    merged: dict[tuple[str, str, bool], dict[str, Any]] = {}
    for target, revision, latest in resolved:
        tag = target.get("tag") or ""
        key = (tag, revision, latest)
        if key in merged:
            merged[key]["percent"] += int(target.get("percent") or 0)
            continue
        entry: dict[str, Any] = {"latestRevision": latest, "percent": int(target.get("percent") or 0),
                                 "revisionName": revision}
        if tag:
            host = host_for(ctx, route, tag)
            _check_host(host)
            entry["tag"] = tag
            entry["url"] = f"http://{host}"
        merged[key] = entry
    return list(merged.values())


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    route = ctx.get(ROUTE, namespace, name)
    if route is None or route["metadata"].get("deletionTimestamp"):
        return
    previous = route.get("status") or {}
    conds = conditions.ConditionSet(
        previous.get("conditions"), ctx.now(), "Ready", ("AllTrafficAssigned", "CertificateProvisioned", "IngressReady")
    )
    status: dict[str, Any] = {
        "address": {"url": f"http://{name}.{namespace}.{CLUSTER_LOCAL_DOMAIN}"},
        "observedGeneration": route["metadata"].get("generation", 1),
        "url": f"http://{host_for(ctx, route)}",
    }
    try:
        status["traffic"] = resolve(ctx, route)
    except TrafficFailure as failure:
        conds.set("AllTrafficAssigned", failure.status, failure.reason, failure.message)
        for kind in ("CertificateProvisioned", "IngressReady"):
            old = conditions.get(previous.get("conditions") or [], kind)
            if old is not None:
                conds.set(kind, old["status"], old.get("reason", ""), old.get("message", ""), old.get("severity", ""))
            else:
                conds.set(kind, "Unknown", "IngressNotConfigured", "Ingress has not yet been reconciled.")
        if "traffic" in previous:
            status["traffic"] = previous["traffic"]
    else:
        conds.set("AllTrafficAssigned", "True")
        conds.set("CertificateProvisioned", "True", "TLSNotEnabled", "external-domain-tls is not enabled")
        conds.set("IngressReady", "True")
    status["conditions"] = conds.result()
    ctx.write_status(ROUTE, route, {k: status[k] for k in sorted(status)})
