"""Route status: traffic resolved in spec order, URLs from config-domain, problems as conditions.

While a traffic target cannot be resolved (missing, foreign or unready revision) the Route
keeps serving its last good `status.traffic`, as Knative does.
"""

from __future__ import annotations

import re
import time
from typing import Any

import yaml

from app.devcluster.admission.goparse import parse_duration
from app.devcluster.apiserver.resources import CONFIGMAP
from app.devcluster.controllers import conditions, networking
from app.devcluster.controllers.context import Context
from app.devcluster.controllers.labels import (
    ANNOTATION_ROLLOUT,
    ANNOTATION_ROLLOUT_STATE,
    LABEL_SERVICE,
    LABEL_VISIBILITY,
)
from app.devcluster.controllers.rollout import Rollout, goal
from app.devcluster.crds.resources import CONFIGURATION, INGRESS, REVISION, ROUTE

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


Resolved = list[tuple[dict[str, Any], str, bool]]  # (spec target, revision, latestRevision)


def resolve_targets(ctx: Context, route: dict[str, Any]) -> Resolved:
    """Each spec target with the revision it resolves to; TrafficFailure when one cannot be."""
    _check_host(host_for(ctx, route))
    resolved: Resolved = []
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
    return resolved


def merge(ctx: Context, route: dict[str, Any], resolved: Resolved, rollout: Rollout | None = None
          ) -> list[dict[str, Any]]:
    """status.traffic: concrete revisions, identical entries merged; during a rollout, each floating entry split over
    the revisions the rollout serves now."""
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
    entries = list(merged.values())
    if rollout is None or rollout.done():
        return entries
    # As GetRevisionTrafficTargets does during a rollout: a floating entry becomes one entry per revision in it.
    split: list[dict[str, Any]] = []
    configurations = {revision: str(target.get("configurationName") or "") for target, revision, latest in resolved
                      if latest}
    for entry in entries:
        config = next((c for c in rollout.by_tag("") if entry["latestRevision"] and
                       c.configuration_name == configurations.get(entry["revisionName"]) and
                       c.percent == entry["percent"]), None)
        if config is None or config.done():
            split.append(entry)
            continue
        split += [{**entry, "percent": r.percent, "revisionName": r.revision_name} for r in config.revisions]
    return split


def rollout_goal(resolved: Resolved) -> Rollout:
    """What the floating targets ask for now (BuildRollout): the untagged share of each configuration's latest
    revision (consolidated by revision, a lone revision counting as 100%), and each floating tag at 100%."""
    by_revision: dict[str, list[Any]] = {}
    tagged: list[tuple[str, str, int, str]] = []
    for target, revision, latest in resolved:
        entry = by_revision.setdefault(revision, [latest, str(target.get("configurationName") or ""), 0])
        entry[2] += int(target.get("percent") or 0)
        if latest and target.get("tag"):
            tagged.append((str(target["tag"]), str(target.get("configurationName") or ""), 100, revision))
    if len(by_revision) == 1:
        next(iter(by_revision.values()))[2] = 100
    untagged = [("", config, percent, revision) for revision, (latest, config, percent) in by_revision.items()
                if latest]
    return goal(untagged + tagged)


def rollout_seconds(ctx: Context, route: dict[str, Any]) -> int:
    """The route's serving.knative.dev/rollout-duration in whole seconds, else, when that is 0 or cannot be parsed,
    config-network's rollout-duration (reconcileRollout; Route.RolloutDuration returns 0 for either)."""
    annotations = route["metadata"].get("annotations") or {}
    text = next((annotations[k] for k in ANNOTATION_ROLLOUT if annotations.get(k)), "")
    seconds = 0
    if text:
        try:
            seconds = int(parse_duration(str(text)) / 1_000_000_000)  # int(d.Seconds()): toward zero
        except ValueError:
            seconds = 0
    return seconds or ctx.rollout_seconds()


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
        resolved = resolve_targets(ctx, route)
        status["traffic"] = merge(ctx, route, resolved)
    except TrafficFailure as failure:
        conds.set("AllTrafficAssigned", failure.status, failure.reason, failure.message)
        for kind in ("CertificateProvisioned", "IngressReady"):
            old = conditions.get(previous.get("conditions") or [], kind)
            if old is not None:
                conds.set(kind, old["status"], old.get("reason", ""), old.get("message", ""), old.get("severity", ""),
                          mark=False)
            else:
                conds.set(kind, "Unknown", "IngressNotConfigured", "Ingress has not yet been reconciled.", mark=False)
        if "traffic" in previous:
            status["traffic"] = previous["traffic"]
    else:
        conds.set("AllTrafficAssigned", "True")
        conds.set("CertificateProvisioned", "True", "TLSNotEnabled", "external-domain-tls is not enabled")
        rollout = _rollout(ctx, route, resolved, status["traffic"], previous)
        if rollout.done():
            conds.set("IngressReady", "True")
        else:
            conds.set("IngressReady", "Unknown", "RolloutInProgress",
                      "A gradual rollout of the latest revision(s) is in progress.")
            status["traffic"] = merge(ctx, route, resolved, rollout)
        networking.sync_placeholders(ctx, route, sorted({t["tag"] for t in status["traffic"] if t.get("tag")}))
    status["conditions"] = conds.result()
    ctx.write_status(ROUTE, route, {k: status[k] for k in sorted(status)})


def _rollout(ctx: Context, route: dict[str, Any], resolved: Resolved, traffic: list[dict[str, Any]],
             previous: dict[str, Any]) -> Rollout:
    """The rollout in force, stepped from the state the KIngress records (reconcileRollout), and the KIngress
    updated with it; the route is looked at again when the next step is due."""
    meta = route["metadata"]
    current = rollout_goal(resolved)
    ingress = ctx.get(INGRESS, meta["namespace"], meta["name"])
    effective = current
    seconds = rollout_seconds(ctx, route)
    if ingress is not None and seconds > 0:
        before = Rollout.loads(((ingress["metadata"].get("annotations") or {}).get(ANNOTATION_ROLLOUT_STATE)) or "")
        now = time.time_ns()
        ingress_ready = conditions.get(previous.get("conditions") or [], "IngressReady") or {}
        if before is not None and ingress_ready.get("status") != "True":
            before.observe_ready(now, float(seconds))
        effective, next_step = current.step(before, now)
        if next_step > 0:
            ctx.schedule((ROUTE.key, meta["namespace"], meta["name"]), max((next_step - now) / 1e9, 0.0) + 0.01)
    splits = merge(ctx, route, resolved, effective)
    local, public = _ingress_hosts(ctx, route, traffic)
    networking.sync_ingress(
        ctx, route, networking.rules(public, local, [(t["revisionName"], t["percent"]) for t in splits
                                                     if not t.get("tag")], meta["namespace"]),
        effective.dumps())
    return effective


def _ingress_hosts(ctx: Context, route: dict[str, Any], traffic: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    meta = route["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    local = [f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.{CLUSTER_LOCAL_DOMAIN}"]
    host = host_for(ctx, route)
    public = [] if host.endswith(CLUSTER_LOCAL_DOMAIN) else [host]
    return local, public
