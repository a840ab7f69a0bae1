"""Knative objects as the console reads them: frozen views parsed from the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

LABEL_SERVICE = "serving.knative.dev/service"
LABEL_GENERATION = "serving.knative.dev/configurationGeneration"
LABEL_VISIBILITY = "networking.knative.dev/visibility"
ANNOTATION_CREATOR = "serving.knative.dev/creator"
ANNOTATION_LAST_MODIFIER = "serving.knative.dev/lastModifier"  # Knative's webhook: who last changed the spec
ANNOTATION_ROLLOUT = "serving.knative.dev/rollout-duration"
ROLLOUT_ALIASES = (ANNOTATION_ROLLOUT, "serving.knative.dev/rolloutDuration")
ANNOTATION_MIN_SCALE = "autoscaling.knative.dev/min-scale"
ANNOTATION_MAX_SCALE = "autoscaling.knative.dev/max-scale"
ANNOTATION_TARGET = "autoscaling.knative.dev/target"
SCALING_ALIASES = {ANNOTATION_MIN_SCALE: "autoscaling.knative.dev/minScale",
                   ANNOTATION_MAX_SCALE: "autoscaling.knative.dev/maxScale"}

SUCCESS, IN_PROGRESS, FAILED = "Success", "In progress", "Failed"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition: str = ""


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    from_secret_or_config: bool = False  # valueFrom: shown, never edited here


@dataclass(frozen=True)
class Scaling:
    min_scale: str = ""
    max_scale: str = ""
    target: str = ""

    def describe(self) -> str:
        parts = []
        if self.min_scale or self.max_scale:
            parts.append(f"{self.min_scale or '0'}–{self.max_scale or '∞'} instances")
        if self.target:
            parts.append(f"target {self.target} concurrent")
        return ", ".join(parts) or "default"


@dataclass(frozen=True)
class Template:
    """What the console edits of a revision template: one serving container and its scaling."""

    image: str = ""
    port: int | None = None
    protocol: str = "http"  # "http" (HTTP/1.1) or "grpc" (HTTP/2 cleartext, port name h2c)
    env: tuple[EnvVar, ...] = ()
    cpu_request: str = ""
    cpu_limit: str = ""
    memory_request: str = ""
    memory_limit: str = ""
    scaling: Scaling = field(default_factory=Scaling)

    @property
    def port_protocol(self) -> str:
        port = self.port or 8080
        return f"{port}/{'gRPC (h2c)' if self.protocol == 'grpc' else 'HTTP'}"


@dataclass(frozen=True)
class TrafficTarget:
    percent: int
    revision_name: str = ""  # empty for a floating entry in spec (latestRevision: true)
    latest_revision: bool = False
    tag: str = ""
    url: str = ""

    def to_spec(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"latestRevision": self.latest_revision, "percent": self.percent}
        if self.revision_name and not self.latest_revision:
            entry["revisionName"] = self.revision_name
        if self.tag:
            entry["tag"] = self.tag
        return entry


@dataclass(frozen=True)
class Status:
    """Success, In progress or Failed, with the reason and message that explain it."""

    label: str
    reason: str = ""
    message: str = ""

    @property
    def settled(self) -> bool:
        return self.label != IN_PROGRESS


@dataclass(frozen=True)
class ServiceView:
    name: str
    namespace: str
    uid: str
    resource_version: str
    generation: int
    observed_generation: int | None
    created: str
    creator: str
    last_modifier: str
    url: str
    address_url: str
    cluster_local: bool
    latest_created: str
    latest_ready: str
    conditions: tuple[Condition, ...]
    status_traffic: tuple[TrafficTarget, ...]
    # Parsed only when a page shows them: the list of Services needs neither.
    raw_template: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw_spec_traffic: Any = field(default=None, repr=False, compare=False)
    rollout_duration: str = ""  # serving.knative.dev/rollout-duration, as written

    @cached_property
    def spec_traffic(self) -> tuple[TrafficTarget, ...]:
        return parse_traffic(self.raw_spec_traffic)

    @cached_property
    def template(self) -> Template:
        return template_from(self.raw_template.get("metadata"), self.raw_template.get("spec"))

    @cached_property
    def status(self) -> Status:
        return status_of(self.conditions, self.generation, self.observed_generation)

    @cached_property
    def traffic(self) -> tuple[TrafficTarget, ...]:
        """Where traffic goes: the Route's resolved targets, or the spec's until the Route has resolved any
        (a floating entry then shown with the latest ready revision, if there is one yet)."""
        if self.status_traffic:
            return self.status_traffic
        return tuple(TrafficTarget(t.percent, self.latest_ready if t.latest_revision else t.revision_name,
                                   t.latest_revision, t.tag) for t in self.spec_traffic)

    @property
    def follows_latest(self) -> bool:
        """Whether some traffic follows the latest ready revision: a floating entry with a share or a tag (its own
        URL), or no traffic block, which Knative's defaulting makes 100% to the latest (the Service's SetDefaults)."""
        if not self.raw_spec_traffic:
            return True
        return any(t.latest_revision and (t.percent or t.tag) for t in self.spec_traffic)

    @property
    def default_domain(self) -> str:
        return host_of(self.url)

    @property
    def tagged(self) -> tuple[TrafficTarget, ...]:
        return tuple(t for t in self.status_traffic if t.tag)

    def pinned_to(self, revision: str) -> tuple[TrafficTarget, ...]:
        """The entries that name this revision (traffic it keeps whatever happens to newer revisions)."""
        return tuple(t for t in self.traffic if t.revision_name == revision and not t.latest_revision)

    def reachable(self, revision: str) -> bool:
        """A request can reach this revision: it has a share of the traffic, or a tag (a URL of its own). Otherwise no
        request starts an instance of it once it has scaled to zero."""
        return any(t.revision_name == revision and (t.percent or t.tag) for t in self.traffic)

    def floating_to(self, revision: str) -> tuple[TrafficTarget, ...]:
        """The floating entries that resolve to this revision now (traffic that moves with the next one)."""
        return tuple(t for t in self.traffic if t.revision_name == revision and t.latest_revision)


@dataclass(frozen=True)
class RevisionView:
    name: str
    generation: int
    created: str
    actual_replicas: int | None = None
    desired_replicas: int | None = None
    # Parsed only for the rows a page shows: a Service with 300 revisions shows a few dozen.
    raw_metadata: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw_spec: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw_status: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def template(self) -> Template:
        return template_from(self.raw_metadata, self.raw_spec)

    @cached_property
    def conditions(self) -> tuple[Condition, ...]:
        return _conditions(self.raw_status)

    @cached_property
    def status(self) -> Status:
        return status_of(self.conditions, 1, 1)

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    @property
    def creator(self) -> str:
        """Who made the change that created this revision (Knative copies the Configuration's lastModifier)."""
        return _str(_dict(self.raw_metadata.get("annotations")).get(ANNOTATION_CREATOR))


def host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0] if url else ""


def status_of(conditions: tuple[Condition, ...], generation: int, observed: int | None) -> Status:
    ready = next((c for c in conditions if c.type == "Ready"), None)
    if ready is not None and ready.status == "False":
        return Status(FAILED, ready.reason, ready.message)
    if ready is not None and ready.status == "True" and observed == generation:
        return Status(SUCCESS)
    if ready is not None:
        return Status(IN_PROGRESS, ready.reason, ready.message)
    return Status(IN_PROGRESS, "", "Waiting for the controller to report status.")


# -- parsing -------------------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _conditions(status: dict[str, Any]) -> tuple[Condition, ...]:
    return tuple(
        Condition(_str(c.get("type")), _str(c.get("status")) or "Unknown", _str(c.get("reason")),
                  _str(c.get("message")), _str(c.get("lastTransitionTime")))
        for c in _list(status.get("conditions")) if isinstance(c, dict)
    )


def parse_traffic(entries: Any) -> tuple[TrafficTarget, ...]:
    targets = []
    for entry in _list(entries):
        if not isinstance(entry, dict):
            continue
        percent = entry.get("percent")
        latest = entry.get("latestRevision")
        revision = _str(entry.get("revisionName"))
        targets.append(TrafficTarget(
            percent=percent if isinstance(percent, int) and not isinstance(percent, bool) else 0,
            revision_name=revision,
            latest_revision=bool(latest) if latest is not None else not revision,
            tag=_str(entry.get("tag")),
            url=_str(entry.get("url")),
        ))
    return tuple(targets)


def _quantity(resources: dict[str, Any], kind: str, name: str) -> str:
    return _str(_dict(resources.get(kind)).get(name))


def template_from(template_metadata: Any, pod_spec: Any) -> Template:
    """The console's view of a template (or revision) spec: the container that serves traffic."""
    annotations = {k: _str(v) for k, v in _dict(_dict(template_metadata).get("annotations")).items()}
    containers = [c for c in _list(_dict(pod_spec).get("containers")) if isinstance(c, dict)]
    serving = next((c for c in containers if _list(c.get("ports"))), containers[0] if containers else {})
    ports = [p for p in _list(serving.get("ports")) if isinstance(p, dict)]
    port = ports[0] if ports else {}
    number = port.get("containerPort")
    env = tuple(
        EnvVar(_str(e.get("name")), _str(e.get("value")), from_secret_or_config="valueFrom" in e)
        for e in _list(serving.get("env")) if isinstance(e, dict)
    )
    resources = _dict(serving.get("resources"))

    def scale(key: str) -> str:
        return annotations.get(key) or annotations.get(SCALING_ALIASES.get(key, ""), "")

    return Template(
        image=_str(serving.get("image")),
        port=number if isinstance(number, int) and not isinstance(number, bool) else None,
        protocol="grpc" if port.get("name") == "h2c" else "http",
        env=env,
        cpu_request=_quantity(resources, "requests", "cpu"),
        cpu_limit=_quantity(resources, "limits", "cpu"),
        memory_request=_quantity(resources, "requests", "memory"),
        memory_limit=_quantity(resources, "limits", "memory"),
        scaling=Scaling(
            scale(ANNOTATION_MIN_SCALE), scale(ANNOTATION_MAX_SCALE), annotations.get(ANNOTATION_TARGET, "")
        ),
    )


def service_from(obj: dict[str, Any]) -> ServiceView:
    meta, spec, status = _dict(obj.get("metadata")), _dict(obj.get("spec")), _dict(obj.get("status"))
    template = _dict(spec.get("template"))
    observed = status.get("observedGeneration")
    generation = meta.get("generation")
    return ServiceView(
        name=_str(meta.get("name")),
        namespace=_str(meta.get("namespace")),
        uid=_str(meta.get("uid")),
        resource_version=_str(meta.get("resourceVersion")),
        generation=generation if isinstance(generation, int) else 0,
        observed_generation=observed if isinstance(observed, int) else None,
        created=_str(meta.get("creationTimestamp")),
        creator=_str(_dict(meta.get("annotations")).get(ANNOTATION_CREATOR)),
        last_modifier=_str(_dict(meta.get("annotations")).get(ANNOTATION_LAST_MODIFIER)),
        url=_str(status.get("url")),
        address_url=_str(_dict(status.get("address")).get("url")),
        cluster_local=_dict(meta.get("labels")).get(LABEL_VISIBILITY) == "cluster-local",
        latest_created=_str(status.get("latestCreatedRevisionName")),
        latest_ready=_str(status.get("latestReadyRevisionName")),
        conditions=_conditions(status),
        status_traffic=parse_traffic(status.get("traffic")),
        raw_template=template,
        raw_spec_traffic=spec.get("traffic"),
        rollout_duration=next((_str(v) for k in ROLLOUT_ALIASES if (v := _dict(meta.get("annotations")).get(k))), ""),
    )


def revision_from(obj: dict[str, Any]) -> RevisionView:
    meta, status = _dict(obj.get("metadata")), _dict(obj.get("status"))
    actual, desired = status.get("actualReplicas"), status.get("desiredReplicas")
    return RevisionView(
        name=_str(meta.get("name")),
        generation=generation_of(meta),
        created=_str(meta.get("creationTimestamp")),
        actual_replicas=actual if isinstance(actual, int) else None,
        desired_replicas=desired if isinstance(desired, int) else None,
        raw_metadata=meta,
        raw_spec=_dict(obj.get("spec")),
        raw_status=status,
    )


def generation_of(metadata: dict[str, Any]) -> int:
    """A revision's configuration generation, from its label (0 when it has none)."""
    generation = _str(_dict(metadata.get("labels")).get(LABEL_GENERATION))
    return int(generation) if generation.isdigit() else 0


def newest_first(revisions: list[RevisionView]) -> list[RevisionView]:
    """As kn lists them: by generation, newest first, then by name."""
    return sorted(revisions, key=lambda r: (-r.generation, r.name))


def newest_first_raw(revisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Revisions as the API gives them, in `newest_first`'s order, without parsing them."""
    def key(obj: dict[str, Any]) -> tuple[int, str]:
        meta = _dict(obj.get("metadata"))
        return -generation_of(meta), _str(meta.get("name"))

    return sorted(revisions, key=key)
