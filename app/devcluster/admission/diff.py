"""A zero-context diff of two JSON objects in the shape of knative.dev/pkg `kmp.ShortDiff`.

Knative diffs the Go structs with go-cmp and prints one block per differing leaf:

    {*v1.RevisionTemplateSpec}.Spec.PodSpec.Containers[0].Image:
    <TAB>-: "helloworld:bar"
    <TAB>+: "helloworld:foo"

Here the JSON field names are mapped back to the Go field names (embedded structs such as
`PodSpec` and `ProbeHandler` included) so the text reads the same for the common cases.
"""

from __future__ import annotations

import json
from typing import Any

from .fielderror import go_quote, go_value

TEMPLATE_ROOT = "{*v1.RevisionTemplateSpec}"
REVISION_SPEC_ROOT = "{v1.RevisionSpec}"

_REVISION_SPEC_OWN = {"containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"}
_PROBES = {"readinessProbe", "livenessProbe", "startupProbe"}
_PROBE_HANDLERS = {"exec", "httpGet", "tcpSocket", "grpc"}
_VOLUME_SOURCES = {"secret", "configMap", "projected", "emptyDir", "persistentVolumeClaim", "hostPath"}
_LOCAL_OBJECT_REFERENCES = {"configMapKeyRef", "secretKeyRef", "configMapRef", "secretRef"}
_MAPS = {"labels", "annotations", "limits", "requests", "nodeSelector"}
# Go pointer fields holding a scalar: go-cmp prints the dereference as a leading "*".
_SCALAR_POINTERS = {
    "containerConcurrency",
    "timeoutSeconds",
    "responseStartTimeoutSeconds",
    "idleTimeoutSeconds",
    "enableServiceLinks",
    "automountServiceAccountToken",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "privileged",
    "optional",
}
_GO_NAMES = {
    "metadata": "ObjectMeta",
    "tcpSocket": "TCPSocket",
    "httpGet": "HTTPGet",
    "httpHeaders": "HTTPHeaders",
    "grpc": "GRPC",
    "hostIP": "HostIP",
    "uid": "UID",
    "tty": "TTY",
    "dnsPolicy": "DNSPolicy",
    "dnsConfig": "DNSConfig",
}


def normalized(value: Any) -> Any:
    """The value as Go would hold it after decoding: no nulls, no empty maps or lists."""
    if isinstance(value, dict):
        out = {k: normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def short_diff(old: Any, new: Any, root: str) -> str:
    """The diff text, empty when the normalized values are equal; ends with a newline."""
    blocks: list[tuple[list[str], bool, Any, Any]] = []
    parent = "spec" if root == REVISION_SPEC_ROOT else ""
    _walk(normalized(old), normalized(new), [], parent, blocks)
    out = []
    for steps, pointer, before, after in blocks:
        path = ("*" if pointer else "") + root + "".join(steps)
        text = f"{path}:\n"
        if before is not _ABSENT:
            text += f"\t-: {_show(before)}\n"
        if after is not _ABSENT:
            text += f"\t+: {_show(after)}\n"
        out.append(text)
    return "".join(out)


_ABSENT = object()


def _walk(old: Any, new: Any, steps: list[str], parent: str, blocks: list[tuple[list[str], bool, Any, Any]]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        in_map = parent in _MAPS
        for key in list(old) + [k for k in new if k not in old]:
            step = f"[{go_quote(key)}]" if in_map else "." + _go_field(parent, key)
            _walk(old.get(key, _ABSENT), new.get(key, _ABSENT), [*steps, step], key, blocks)
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            if i < len(old) and i < len(new):
                _walk(old[i], new[i], [*steps, f"[{i}]"], parent, blocks)
            elif i < len(old):
                blocks.append(([*steps, f"[{i}->?]"], False, old[i], _ABSENT))
            else:
                blocks.append(([*steps, f"[?->{i}]"], False, _ABSENT, new[i]))
        return
    pointer = parent in _SCALAR_POINTERS and old is not _ABSENT and new is not _ABSENT
    blocks.append((steps, pointer, old, new))


def _go_field(parent: str, key: str) -> str:
    name = _GO_NAMES.get(key) or key[:1].upper() + key[1:]
    if parent == "spec" and key not in _REVISION_SPEC_OWN:
        return "PodSpec." + name
    if parent in _PROBES and key in _PROBE_HANDLERS:
        return "ProbeHandler." + name
    if parent == "volumes" and key in _VOLUME_SOURCES:
        return "VolumeSource." + name
    if parent in _LOCAL_OBJECT_REFERENCES and key == "name":
        return "LocalObjectReference.Name"
    return name


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return '"' + json.dumps(value, separators=(",", ":"), sort_keys=True) + '"'
    return f'"{go_value(value)}"'
