"""What changed between two revision templates, in words a reviewer reads: "image: …:v2 → …:v3",
"env LOG_LEVEL added = debug", "max scale 3 → 5"; and in a few words for a table cell: "image v2 → v3, +LOG_LEVEL".

A template is flattened into named fields (the serving container's image, port, each environment variable, each
resource; the scaling annotations; every other field of the spec, container, annotations and labels by its path),
so that any difference shows, also in fields the console does not edit. What Knative, kubectl, kn and the console
write by themselves (the creator, `client.knative.dev/updateTimestamp`, the controllers' labels) is not a change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.knative.instances import resolved_image, serving_container
from app.knative.models import ANNOTATION_MAX_SCALE, ANNOTATION_MIN_SCALE, ANNOTATION_TARGET, SCALING_ALIASES
from app.knative.yaml_view import WRITTEN_ANNOTATIONS, WRITTEN_LABELS, WRITTEN_PREFIXES

DIGEST = "digest"  # the key of the serving image's resolved digest, which no template holds
SHORT_ITEMS = 3  # a table cell names this many changes, then "+N more"
SHORT_VALUE = 24
_SCALING = {ANNOTATION_MIN_SCALE: "min scale", ANNOTATION_MAX_SCALE: "max scale",
            ANNOTATION_TARGET: "concurrency target"}
_ALIASES = {alias: key for key, alias in SCALING_ALIASES.items()}
_SPEC = {"containerConcurrency": "concurrency limit", "timeoutSeconds": "timeout", "serviceAccountName":
         "service account"}
_RESOURCES = (("requests", "request"), ("limits", "limit"))
_HANDLED = ("name", "image", "ports", "env", "resources", "volumeMounts")
# A probe and its fields as the Kubernetes API reference names them (core/v1 Probe), in a user's words.
_PROBES = {"readinessProbe": "readiness probe", "livenessProbe": "liveness probe", "startupProbe": "startup probe"}
_PROBE_FIELDS = {"initialDelaySeconds": "initial delay", "periodSeconds": "period", "timeoutSeconds": "timeout",
                 "successThreshold": "success threshold", "failureThreshold": "failure threshold",
                 "terminationGracePeriodSeconds": "termination grace period"}
_CHECKS = ("httpGet", "tcpSocket", "grpc", "exec")
# A volume's source named by its kind and what it refers to (core/v1 Volume); any other source by its kind and JSON.
_VOLUME_SOURCES = {"secret": ("Secret", "secretName"), "configMap": ("ConfigMap", "name"),
                   "persistentVolumeClaim": ("PersistentVolumeClaim", "claimName")}


@dataclass(frozen=True)
class Field:
    key: str  # stable: "image", "env/LOG_LEVEL", "annotation/…"
    label: str  # as a user reads it: "image", "env LOG_LEVEL", "max scale"
    value: str


@dataclass(frozen=True)
class FieldDiff:
    key: str
    label: str
    before: str | None  # None: not set
    after: str | None

    @property
    def env(self) -> str:
        return self.key.removeprefix("env/") if self.key.startswith("env/") else ""

    @property
    def sentence(self) -> str:
        if self.key == "image" and self.before and self.after:
            old, new = elide(self.before, self.after)
            return f"image: {old} → {new}"
        if self.key == DIGEST and self.before and self.after:
            old, new = elide(self.before, self.after)
            return f"the same image, resolved to other code: {old} → {new}"
        if self.before is None:
            return f"{self.label} added = {self.after}"
        if self.after is None:
            return f"{self.label} removed (was {self.before})"
        return f"{self.label} {self.before} → {self.after}"

    @property
    def short(self) -> str:
        if self.key == "image" and self.before and self.after:
            old, new = _short_images(self.before, self.after)
            return f"image {old} → {new}"
        if self.key == DIGEST and self.before and self.after:
            old, new = _short_images(self.before, self.after)
            return f"image digest {old} → {new}"
        if self.env:
            return f"+{self.env}" if self.before is None else f"−{self.env}" if self.after is None else \
                f"{self.env} changed"
        if self.before is None:
            return f"+{self.label}"
        if self.after is None:
            return f"−{self.label}"
        return f"{self.label} {_cut(self.before)} → {_cut(self.after)}"


def _cut(text: str) -> str:
    return text if len(text) <= SHORT_VALUE else text[: SHORT_VALUE - 1] + "…"


def split_image(image: str) -> tuple[str, str]:
    """(repository, `:tag` or `@digest` or "") of an image reference."""
    if "@" in image:
        repository, digest = image.split("@", 1)
        return repository, "@" + digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def _version(image: str) -> str:
    """`v3` for `…/app:v3`, `@sha256:1234567` for a digest, the last path segment for an untagged image."""
    repository, version = split_image(image)
    if version.startswith("@"):
        return version[: version.find(":") + 8] if ":" in version else version
    return version[1:] if version else repository.rsplit("/", 1)[-1]


def _short_images(before: str, after: str) -> tuple[str, str]:
    """Two images in a table cell: their tags when the repository stayed (`v2 → v3`), else their last path segments
    (`app:v1 → crashes:v1`), else the whole references; never `v1 → v1` for another repository."""
    (old_repo, _), (new_repo, _) = split_image(before), split_image(after)
    if old_repo == new_repo:
        return _version(before), _version(after)
    old, new = _named(before), _named(after)
    return (old, new) if old != new else (before, after)


def _named(image: str) -> str:
    """`app:v3` for `…/app:v3`, `app@sha256:1234567` for a digest."""
    repository, version = split_image(image)
    name = repository.rsplit("/", 1)[-1]
    return name + _version(image) if version.startswith("@") else name + version


def elide(before: str, after: str) -> tuple[str, str]:
    """Two images as a sentence names them: `…:v2`, `…:v3` when only the tag or digest differs."""
    (old_repo, old_version), (new_repo, new_version) = split_image(before), split_image(after)
    if old_repo == new_repo and old_version and new_version:
        return f"…{old_version}", f"…{new_version}"
    return before, after


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(", ", ": "),
                                                           ensure_ascii=False)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _env_value(entry: dict[str, Any]) -> str:
    if "valueFrom" not in entry:
        return _json(entry.get("value", ""))
    source = _dict(entry.get("valueFrom"))
    for kind, label in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
        ref = _dict(source.get(kind))
        if ref:
            return f"from {label} {ref.get('name', '')}, key {ref.get('key', '')}"
    return f"from {_json(source)}"


def _port(value: Any) -> str:
    # Knative's defaulting leaves port 0 (or none): the probe then goes to the serving container's port.
    return f"on port {value}" if value not in (None, 0, "") else "on the container's port"


def _check(probe: dict[str, Any]) -> str:
    """What a probe does: `HTTP GET /healthz on port 8080`, `TCP on the container's port`, `runs cat /tmp/ok`."""
    if "httpGet" in probe:
        get = _dict(probe["httpGet"])
        scheme = "HTTPS" if get.get("scheme") == "HTTPS" else "HTTP"
        return f"{scheme} GET {get.get('path') or '/'} {_port(get.get('port'))}"
    if "tcpSocket" in probe:
        return f"TCP {_port(_dict(probe['tcpSocket']).get('port'))}"
    if "grpc" in probe:
        grpc = _dict(probe["grpc"])
        service = f" (service {grpc['service']})" if grpc.get("service") else ""
        return f"gRPC {_port(grpc.get('port'))}{service}"
    command = _dict(probe["exec"]).get("command")
    return "runs " + (" ".join(map(_json, command)) if isinstance(command, list) else _json(command))


def _probe_fields(key: str, probe: Any) -> list[Field]:
    label = _PROBES[key]
    if not isinstance(probe, dict):
        return [Field(f"probe/{key}", label, _json(probe))]
    fields = [Field(f"probe/{key}/check", f"{label} check", _check(probe))] if any(c in probe for c in _CHECKS) \
        else []
    for name, value in probe.items():
        if name in _CHECKS:
            continue
        word = _PROBE_FIELDS.get(name)
        seconds = "s" if word and name.endswith("Seconds") else ""
        fields.append(Field(f"probe/{key}/{name}", f"{label} {word or name}", _json(value) + seconds))
    return fields


def _volume(volume: dict[str, Any]) -> str:
    """`Secret tls`, `ConfigMap app-config`, `emptyDir`, or the source's kind and JSON."""
    for kind, source in volume.items():
        if kind == "name":
            continue
        if kind in _VOLUME_SOURCES:
            word, ref = _VOLUME_SOURCES[kind]
            return f"{word} {_dict(source).get(ref, '')}"
        return kind if source in ({}, None) else f"{kind} {_json(source)}"
    return "no source"


def _mount(mount: dict[str, Any]) -> str:
    sub = f", subpath {mount['subPath']}" if mount.get("subPath") else ""
    return f"volume {mount.get('name', '')}{sub}{', read-only' if mount.get('readOnly') else ''}"


def _container_fields(container: dict[str, Any], serving: bool = True) -> list[Field]:
    """The serving container's fields; a sidecar's (`serving=False`) without the serving port, which it has not."""
    fields = [Field("image", "image", _json(container.get("image", "")))]
    if serving:
        ports = _dicts(container.get("ports"))
        port = ports[0] if ports else {}
        number = port.get("containerPort", 8080)
        fields.append(Field("port", "port", f"{number}/{'gRPC (h2c)' if port.get('name') == 'h2c' else 'HTTP'}"))
    for entry in container.get("env") or []:
        if isinstance(entry, dict):
            name = _json(entry.get("name", ""))
            fields.append(Field(f"env/{name}", f"env {name}", _env_value(entry)))
    resources = _dict(container.get("resources"))
    for section, word in _RESOURCES:
        for name, amount in sorted(_dict(resources.get(section)).items()):
            fields.append(Field(f"resources/{section}/{name}", f"{name} {word}", _json(amount)))
    for mount in _dicts(container.get("volumeMounts")):
        path = _json(mount.get("mountPath", ""))
        fields.append(Field(f"mount/{path}", f"mount {path}", _mount(mount)))
    for key, value in container.items():
        if key in _PROBES:
            fields += _probe_fields(key, value)
        elif key not in _HANDLED:
            fields.append(Field(f"container/{key}", f"container {key}", _json(value)))
    return fields


def _sidecar_fields(container: dict[str, Any]) -> list[Field]:
    """A sidecar's fields as the serving container's are said, each under the sidecar's name ("container log-agent
    image", "container log-agent env LEVEL"), so that a change of one reads as that change, not as JSON."""
    name = _json(container.get("name", ""))
    return [Field(f"sidecar/{name}/{f.key}", f"container {name} {f.label.removeprefix('container ')}", f.value)
            for f in _container_fields(container, serving=False)]


def template_fields(metadata: Any, spec: Any) -> list[Field]:
    """A revision template (or a revision's metadata and spec) as named fields, in reading order."""
    metadata, spec = _dict(metadata), _dict(spec)
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    serving = next((c for c in containers if c.get("ports")), containers[0] if containers else {})
    fields = _container_fields(serving)
    annotations = _dict(metadata.get("annotations"))
    scaling = {_ALIASES.get(k, k): v for k, v in annotations.items() if _ALIASES.get(k, k) in _SCALING}
    fields += [Field(f"annotation/{key}", label, _json(scaling[key])) for key, label in _SCALING.items()
               if key in scaling]
    for volume in _dicts(spec.get("volumes")):
        name = _json(volume.get("name", ""))
        fields.append(Field(f"volume/{name}", f"volume {name}", _volume(volume)))
    for key, value in spec.items():
        if key != "containers" and not (key == "volumes" and isinstance(value, list)):
            fields.append(Field(f"spec/{key}", _SPEC.get(key, key), _json(value) + ("s" if key == "timeoutSeconds"
                                                                                    else "")))
    for container in containers:
        if container is not serving:
            fields += _sidecar_fields(container)
    for key, value in sorted(annotations.items()):
        if _ALIASES.get(key, key) not in _SCALING and key not in WRITTEN_ANNOTATIONS and \
                not key.startswith(WRITTEN_PREFIXES):
            fields.append(Field(f"annotation/{key}", f"annotation {key}", _json(value)))
    for key, value in sorted(_dict(metadata.get("labels")).items()):
        if key not in WRITTEN_LABELS:
            fields.append(Field(f"label/{key}", f"label {key}", _json(value)))
    return fields


def added_later(metadata: Any) -> dict[str, frozenset[str]]:
    """The labels and annotations (`{"labels": keys, "annotations": keys}`) someone put on a revision after it was
    made from its template (`kubectl label`, `kubectl annotate`): by the object's managedFields, owned only by managers
    that never wrote its spec. A revision's spec is immutable, so whoever wrote it made the revision, and the labels
    and annotations they own are the template's. Without managedFields, or without an owner of the spec in them,
    nothing is known to be later: every label and annotation counts. (A template's label that someone later set to a
    new value has changed owner too, and is taken for later: the template's value is no longer on the object.)"""
    managed = _dict(metadata).get("managedFields")
    entries = [e for e in (managed if isinstance(managed, list) else []) if isinstance(e, dict)
               and not e.get("subresource") and isinstance(e.get("fieldsV1"), dict)]
    creators = [e for e in entries if "f:spec" in e["fieldsV1"]]
    if not creators or len(creators) == len(entries):
        return {}

    def owned(group: list[dict[str, Any]], kind: str) -> set[str]:
        return {key.removeprefix("f:") for e in group for key in _dict(_dict(e["fieldsV1"].get("f:metadata"))
                                                                          .get(f"f:{kind}"))}

    others = [e for e in entries if "f:spec" not in e["fieldsV1"]]
    later = {kind: frozenset(owned(others, kind) - owned(creators, kind)) for kind in ("labels", "annotations")}
    return {kind: keys for kind, keys in later.items() if keys}


def revision_fields(revision: dict[str, Any]) -> list[Field]:
    """A revision's template as named fields, without the labels and annotations added to it later."""
    metadata = _dict(revision.get("metadata"))
    later = added_later(metadata)
    if later:
        metadata = {**metadata, **{kind: {k: v for k, v in _dict(metadata.get(kind)).items() if k not in keys}
                                   for kind, keys in later.items()}}
    return template_fields(metadata, revision.get("spec"))


def compare(before: Sequence[Field], after: Sequence[Field]) -> list[FieldDiff]:
    """Every field that differs, in the newer template's order, then those it no longer has."""
    old = {f.key: f for f in before}
    new = {f.key: f for f in after}
    diffs = [FieldDiff(f.key, f.label, old[f.key].value if f.key in old else None, f.value)
             for f in after if f.key not in old or old[f.key].value != f.value]
    diffs += [FieldDiff(f.key, f.label, f.value, None) for f in before if f.key not in new]
    return diffs


def digest_diff(older: dict[str, Any], newer: dict[str, Any]) -> FieldDiff | None:
    """Two revisions whose templates name the same image that Knative resolved to different digests (a tag such as
    `:latest` pointed elsewhere when the newer one was made): they run different code though their templates are the
    same. None when the image reference changed (that change says it) or either has no digest yet."""
    before, after = resolved_image(older), resolved_image(newer)
    if not before or not after or before == after:
        return None
    if serving_container(_dict(older.get("spec"))).get("image") != serving_container(_dict(newer.get("spec"))).get(
            "image"):
        return None
    return FieldDiff(DIGEST, "resolved image", before, after)


def revision_diffs(older: dict[str, Any], newer: dict[str, Any]) -> list[FieldDiff]:
    """What changed from one revision to another: their templates' fields, then the code the same image resolved to."""
    diffs = compare(revision_fields(older), revision_fields(newer))
    moved = digest_diff(older, newer)
    return diffs + [moved] if moved else diffs


def template_diffs(before: Any, after: Any) -> list[FieldDiff]:
    """What changed between two revision templates (`{metadata, spec}`, as in a Service's spec.template)."""
    old, new = _dict(before), _dict(after)
    return compare(template_fields(old.get("metadata"), old.get("spec")),
                   template_fields(new.get("metadata"), new.get("spec")))


def summary(diffs: Sequence[FieldDiff]) -> str:
    """A table cell's few words: `image v2 → v3, +LOG_LEVEL`; "same template" when nothing a user wrote changed (and
    the image resolved to the same code)."""
    if not diffs:
        return "same template"
    shown = ", ".join(d.short for d in diffs[:SHORT_ITEMS])
    return shown + (f" +{len(diffs) - SHORT_ITEMS} more" if len(diffs) > SHORT_ITEMS else "")


@dataclass(frozen=True)
class SideBySide:
    """One row of the diff page: a field, its value in each revision, and whether it differs."""

    label: str
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def side_by_side(before: Sequence[Field], after: Sequence[Field]) -> list[SideBySide]:
    """Every field of either template, in the older one's order with the newer one's additions where they appear."""
    old = {f.key: f for f in before}
    new = {f.key: f for f in after}
    keys = [f.key for f in before] + [f.key for f in after if f.key not in old]
    return [SideBySide((new.get(key) or old[key]).label, old[key].value if key in old else None,
                       new[key].value if key in new else None) for key in keys]
