"""What a dialog will send, and the same change as a command a user can run instead: `kubectl patch … --type merge`,
`kubectl apply -f -`, `kubectl delete`, and `kn service create|update|delete`.

The kubectl lines send the same change as the console (its merge patch or its object), without what only the
console needs: the resourceVersion that makes its write conditional, and its own history annotation. The kn lines
follow kn's flag syntax (knative/client `pkg/kn/commands/flags/traffic.go`, `docs/cmd/kn_service_create.md`) and
kn's traffic rules (`pkg/kn/traffic/compute.go`: start from the Service's spec.traffic, untag, tag, set every
percentage given and 0 for the rest, drop untagged 0% entries); where kn cannot say exactly what the console writes,
a note says so.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.knative.history import HISTORY, LATEST
from app.knative.manifests import CREATE_ID
from app.knative.models import ANNOTATION_MAX_SCALE, ANNOTATION_MIN_SCALE, ANNOTATION_TARGET, Template, TrafficTarget

KN_NOTE = ("kn adds annotations of its own (client.knative.dev/user-image, client.knative.dev/updateTimestamp) and "
           "works from the Service as it is when you run it.")


@dataclass(frozen=True)
class Preview:
    """The request a dialog sends and the equivalent commands, as the page shows them."""

    method: str
    path: str
    content_type: str
    body: str  # the exact request body, as JSON
    kubectl: str
    kn: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def request(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.content_type})" if self.content_type else "")


def pretty(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)


def compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def without_console_fields(body: dict[str, Any]) -> dict[str, Any]:
    """A patch or object without the resourceVersion precondition and the console's own annotations."""
    result = copy.deepcopy(body)
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("resourceVersion", None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            for key in (HISTORY, CREATE_ID):
                annotations.pop(key, None)
            if not annotations:
                del metadata["annotations"]
        if not metadata:
            del result["metadata"]
    return result


def kubectl_patch(name: str, namespace: str, patch: dict[str, Any]) -> str:
    return f"kubectl patch ksvc {name} -n {namespace} --type merge -p {shlex.quote(compact(patch))}"


def kubectl_apply(yaml_text: str) -> str:
    """`kubectl apply -f -` with the YAML as a here-document (its end marker chosen not to occur in the YAML)."""
    lines = set(yaml_text.splitlines())
    marker = next(m for m in (f"EOF{n}" if n else "EOF" for n in range(len(lines) + 1)) if m not in lines)
    return f"kubectl apply -f - <<'{marker}'\n{yaml_text.rstrip()}\n{marker}"


def kubectl_delete(name: str, namespace: str) -> str:
    return f"kubectl delete ksvc {name} -n {namespace}"


def kn_delete(name: str, namespace: str) -> str:
    return f"kn service delete {name} -n {namespace}"


def _ref(target: TrafficTarget) -> str:
    return LATEST if target.latest_revision else target.revision_name


def traffic_flags(current: Sequence[TrafficTarget], planned: Sequence[TrafficTarget]) -> tuple[list[str], list[str]]:
    """kn's `--untag`, `--tag` and `--traffic` flags that turn spec.traffic `current` into `planned`, and notes on
    what kn would do differently."""
    now = {(_ref(t), t.tag) for t in current if t.tag}
    wanted = {(_ref(t), t.tag) for t in planned if t.tag}
    flags = [f"--untag {shlex.quote(tag)}" for ref, tag in sorted(now - wanted, key=lambda p: p[1])]
    flags += [f"--tag {shlex.quote(f'{_ref(t)}={t.tag}')}" for t in planned if t.tag and (_ref(t), t.tag) not in now]
    flags += [f"--traffic {shlex.quote(f'{_ref(t)}={t.percent}')}" for t in planned if t.percent]
    notes = []
    if any(t.latest_revision and not t.percent and not t.tag for t in planned):
        notes.append("kn drops an untagged 0% latest-revision entry, which the console keeps.")
    refs = [_ref(t) for t in planned]
    if len(set(refs)) != len(refs):
        notes.append("kn cannot give one revision two entries; this split names one twice.")
    return flags, notes


def _port_flag(template: Template) -> str:
    if template.protocol == "grpc":
        return f"--port h2c:{template.port or 8080}"
    return f"--port {template.port}" if template.port else ""


def _resource_flags(old: Template | None, new: Template) -> list[str]:
    flags = []
    for flag, parts in (("--request", (("cpu", "cpu_request"), ("memory", "memory_request"))),
                        ("--limit", (("cpu", "cpu_limit"), ("memory", "memory_limit")))):
        values = []
        for resource, attribute in parts:
            value, before = getattr(new, attribute), getattr(old, attribute) if old else ""
            if value and value != before:
                values.append(f"{resource}={value}")
            elif before and not value:
                values.append(f"{resource}-")
        if values:
            flags.append(f"{flag} {shlex.quote(','.join(values))}")
    return flags


def _scaling_flags(old: Template | None, new: Template) -> tuple[list[str], list[str]]:
    flags, notes = [], []
    for flag, key, attribute in (("--scale-min", ANNOTATION_MIN_SCALE, "min_scale"),
                                 ("--scale-max", ANNOTATION_MAX_SCALE, "max_scale"),
                                 ("--scale-target", ANNOTATION_TARGET, "target")):
        value, before = getattr(new.scaling, attribute), getattr(old.scaling, attribute) if old else ""
        if value and value != before:
            flags.append(f"{flag} {shlex.quote(value)}")
            if not value.isdigit():
                notes.append(f"{flag} takes a whole number; {value} is set here as the annotation {key}.")
        elif before and not value:
            flags.append(f"--annotation-revision {shlex.quote(key + '-')}")
    return flags, notes


def _env_flags(old: Template | None, new: Template) -> list[str]:
    before = {e.name: e.value for e in old.env if not e.from_secret_or_config} if old else {}
    after = {e.name: e.value for e in new.env if not e.from_secret_or_config}
    flags = [f"--env {shlex.quote(f'{name}={value}')}" for name, value in after.items() if before.get(name) != value]
    return flags + [f"--env {shlex.quote(name + '-')}" for name in before if name not in after]


def kn_create(name: str, namespace: str, template: Template, cluster_local: bool) -> tuple[str, list[str]]:
    parts = [f"kn service create {name} -n {namespace} --image {shlex.quote(template.image)}"]
    port = _port_flag(template)
    parts += [port] if port else []
    parts += _env_flags(None, template)
    parts += _resource_flags(None, template)
    scaling, notes = _scaling_flags(None, template)
    parts += scaling
    if cluster_local:
        parts.append("--cluster-local")
    return " ".join(parts), notes


def service_annotations(patch: dict[str, Any]) -> dict[str, str | None]:
    """The Service annotations a merge patch sets (a value) or removes (None), the console's own left out."""
    annotations = (without_console_fields(patch).get("metadata") or {}).get("annotations") or {}
    return {str(key): None if value is None else str(value) for key, value in annotations.items()}


def _annotation_flags(annotations: dict[str, str | None]) -> list[str]:
    """kn's `--annotation-service name=value`, or `name-` to remove one (docs/cmd/kn_service_update.md)."""
    return [f"--annotation-service {shlex.quote(key + '-' if value is None else f'{key}={value}')}"
            for key, value in sorted(annotations.items())]


def kn_update(name: str, namespace: str, old: Template | None, new: Template | None,
              current: Sequence[TrafficTarget], planned: Sequence[TrafficTarget],
              revision_name: str = "", annotations: dict[str, str | None] | None = None) -> tuple[str, list[str]]:
    """`kn service update` for a new template (the wizard) and/or a new split (Split Traffic, promote, restore);
    `annotations` the Service annotations it sets or removes (the wizard's gradual rollout)."""
    parts = [f"kn service update {name} -n {namespace}"]
    notes: list[str] = []
    if new is not None:
        # Always the image: without it kn pins the running image to its digest (--lock-to-digest).
        parts.append(f"--image {shlex.quote(new.image)}")
        if old is None or (old.port, old.protocol) != (new.port, new.protocol):
            port = _port_flag(new)
            parts += [port] if port else []
        parts += _env_flags(old, new)
        parts += _resource_flags(old, new)
        scaling, scaling_notes = _scaling_flags(old, new)
        parts += scaling
        notes += scaling_notes
        if revision_name:
            parts.append(f"--revision-name {shlex.quote(revision_name)}")
    parts += _annotation_flags(annotations or {})
    flags, traffic_notes = traffic_flags(current, planned)
    return " ".join(parts + flags), notes + traffic_notes
