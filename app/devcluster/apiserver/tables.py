"""`Table` responses for `kubectl get`: custom resources' printer columns and the core types' columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.devcluster.apiserver.resources import Column, ResourceDef

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null "
    "for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata"
)

_SEGMENT = re.compile(r"\.([A-Za-z0-9_]+)|\[\?\(@\.([A-Za-z]+)=='([^']*)'\)\]|\['((?:[^'\\]|\\.)*)'\]")


def json_path(obj: Any, path: str) -> Any:
    """Evaluate the JSONPath forms printer columns use (fields, quoted keys, `[?(@.k=='v')]`); None when absent."""
    current = obj
    pos = 0
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if match is None:
            return None
        pos = match.end()
        field, filter_key, filter_value, quoted = match.groups()
        if field is not None or quoted is not None:
            key = field if field is not None else re.sub(r"\\(.)", r"\1", quoted)
            if not isinstance(current, dict) or key not in current:
                return None
            current = current[key]
        else:
            if not isinstance(current, list):
                return None
            current = next(
                (i for i in current if isinstance(i, dict) and str(i.get(filter_key)) == filter_value), None
            )
            if current is None:
                return None
    return current


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration, as the AGE columns print it."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: str | None, now: datetime | None = None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        try:
            then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - then).total_seconds())


def _meta(obj: dict[str, Any], key: str) -> Any:
    return (obj.get("metadata") or {}).get(key)


def _service_external_ip(obj: dict[str, Any]) -> str:
    spec = obj.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    if kind == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        return ",".join(ip for ip in ips if ip) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "<none>")
    return ",".join(spec.get("externalIPs") or []) or "<none>"


def _service_ports(obj: dict[str, Any]) -> str:
    parts = []
    for port in (obj.get("spec") or {}).get("ports") or []:
        if not isinstance(port, dict):
            continue
        text = str(port.get("port", ""))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _event_object(obj: dict[str, Any]) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _pod_cells(obj: dict[str, Any]) -> tuple[str, str, str]:
    """Ready, Status and Restarts as kubectl's pod printer derives them from the containers' states."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    restarts, ready, last_restart = 0, 0, ""
    has_running = False
    for container in reversed(status.get("containerStatuses") or []):
        if not isinstance(container, dict):
            continue
        restarts += int(container.get("restartCount") or 0)
        finished = ((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
        last_restart = max(last_restart, str(finished))
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            reason = f"Signal:{terminated['signal']}" if terminated.get("signal") else \
                f"ExitCode:{terminated.get('exitCode', 0)}"
        elif container.get("ready") and state.get("running") is not None:
            has_running = True
            ready += 1
    if reason == "Completed" and has_running:
        reason = "Running"
    if (obj.get("metadata") or {}).get("deletionTimestamp") and reason not in ("Succeeded", "Failed"):
        reason = "Terminating"
    shown = str(restarts) if not (restarts and last_restart) else f"{restarts} ({age(last_restart)} ago)"
    return f"{ready}/{len(spec.get('containers') or [])}", reason, shown


def _selector(obj: dict[str, Any]) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    return ",".join(terms) or "<none>"


def _template_containers(obj: dict[str, Any], key: str) -> str:
    containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    return ",".join(str(c.get(key, "")) for c in containers if isinstance(c, dict))


_CoreColumn = tuple[dict[str, Any], Callable[[dict[str, Any]], Any]]


def _quota_cells(obj: dict[str, Any]) -> tuple[str, str]:
    """printResourceQuota: `resource: used/hard` for each hard resource in name order, those named limits.* under
    Limit, the rest under Request."""
    status = obj.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        (limit if len(pieces) > 1 and pieces[0] == "limits" else request).append(
            f"{name}: {used.get(name, '0')}/{hard[name]}")
    return ", ".join(request), ", ".join(limit)


def _column(name: str, type_: str, description: str = "", priority: int = 0, format_: str = "") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": format_, "description": description, "priority": priority}


_AGE: _CoreColumn = (_column("Age", "string", AGE_DESCRIPTION), lambda o: age(_meta(o, "creationTimestamp")))

_WORKLOAD_DETAIL: list[_CoreColumn] = [
    (_column("Containers", "string", "Names of each container in the template.", priority=1),
     lambda o: _template_containers(o, "name")),
    (_column("Images", "string", "Images referenced by each container in the template.", priority=1),
     lambda o: _template_containers(o, "image")),
    (_column("Selector", "string", "Label selector for the pods it targets.", priority=1), _selector),
]

def _node_status(obj: dict[str, Any]) -> str:
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), None)
    shown = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    return shown + (",SchedulingDisabled" if (obj.get("spec") or {}).get("unschedulable") else "")


def _node_roles(obj: dict[str, Any]) -> str:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
    return ",".join(r for r in roles if r) or "<none>"


def _node_address(obj: dict[str, Any], kind: str) -> str:
    addresses = (obj.get("status") or {}).get("addresses") or []
    return next((str(a.get("address")) for a in addresses if isinstance(a, dict) and a.get("type") == kind), "<none>")


def _node_info(obj: dict[str, Any], key: str) -> str:
    return str(((obj.get("status") or {}).get("nodeInfo") or {}).get(key) or "<unknown>")


_CORE_COLUMNS: dict[str, list[_CoreColumn]] = {
    # kubectl's node printer (pkg/printers/internalversion/printers.go): Status, Roles, Age, Version; -o wide more.
    "/nodes": [
        (_column("Status", "string", "The status of the node"), _node_status),
        (_column("Roles", "string", "The roles of the node"), _node_roles),
        _AGE,
        (_column("Version", "string", "Kubelet Version reported by the node."),
         lambda o: _node_info(o, "kubeletVersion")),
        (_column("Internal-IP", "string", "List of internal IPs for the node.", priority=1),
         lambda o: _node_address(o, "InternalIP")),
        (_column("External-IP", "string", "List of external IPs for the node.", priority=1),
         lambda o: _node_address(o, "ExternalIP")),
        (_column("OS-Image", "string", "OS image reported by the node.", priority=1),
         lambda o: _node_info(o, "osImage")),
        (_column("Kernel-Version", "string", "Kernel version reported by the node.", priority=1),
         lambda o: _node_info(o, "kernelVersion")),
        (_column("Container-Runtime", "string", "Container runtime version reported by the node.", priority=1),
         lambda o: _node_info(o, "containerRuntimeVersion")),
    ],
    "/pods": [
        (_column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
         lambda o: _pod_cells(o)[0]),
        (_column("Status", "string", "The aggregate status of the containers in this pod."),
         lambda o: _pod_cells(o)[1]),
        (_column("Restarts", "string", "The number of times the containers in this pod have been restarted and "
                 "when the last container in this pod has restarted."), lambda o: _pod_cells(o)[2]),
        _AGE,
        (_column("IP", "string", "IP address allocated to the pod.", priority=1),
         lambda o: (o.get("status") or {}).get("podIP") or "<none>"),
        (_column("Node", "string", "The node the pod is bound to.", priority=1),
         lambda o: (o.get("spec") or {}).get("nodeName") or "<none>"),
        (_column("Nominated Node", "string", "The node the scheduler nominated for the pod.", priority=1),
         lambda o: (o.get("status") or {}).get("nominatedNodeName") or "<none>"),
        (_column("Readiness Gates", "string", "Conditions evaluated for the pod's readiness.", priority=1),
         lambda o: "<none>"),
    ],
    "apps/deployments": [
        (_column("Ready", "string", "Number of the pod with ready state"),
         lambda o: f"{(o.get('status') or {}).get('readyReplicas', 0)}/{(o.get('spec') or {}).get('replicas', 1)}"),
        (_column("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that "
                 "have the desired template spec."), lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
        (_column("Available", "string", "Total number of available pods (ready for at least minReadySeconds) "
                 "targeted by this deployment."), lambda o: (o.get("status") or {}).get("availableReplicas", 0)),
        _AGE,
        *_WORKLOAD_DETAIL,
    ],
    "apps/replicasets": [
        (_column("Desired", "integer", "Number of desired pods."), lambda o: (o.get("spec") or {}).get("replicas", 1)),
        (_column("Current", "integer", "Number of actual pods."), lambda o: (o.get("status") or {}).get("replicas", 0)),
        (_column("Ready", "integer", "The number of ready pods."),
         lambda o: (o.get("status") or {}).get("readyReplicas", 0)),
        _AGE,
        *_WORKLOAD_DETAIL,
    ],
    "/namespaces": [
        (_column("Status", "string", "The status of the namespace"), lambda o: (o.get("status") or {}).get("phase")),
        _AGE,
    ],
    "/configmaps": [
        (_column("Data", "string", "Data contains the configuration data."),
         lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    "/services": [
        (_column("Type", "string", "The type of the service."),
         lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
        (_column("Cluster-IP", "string", "The cluster IP of the service."),
         lambda o: (o.get("spec") or {}).get("clusterIP", "<none>")),
        (_column("External-IP", "string", "The external IP of the service."), _service_external_ip),
        (_column("Port(s)", "string", "The ports of the service."), _service_ports),
        _AGE,
        (_column("Selector", "string", "The selector of the service.", priority=1),
         lambda o: ",".join(f"{k}={v}" for k, v in ((o.get("spec") or {}).get("selector") or {}).items()) or "<none>"),
    ],
    # printers.go resourceQuotaColumnDefinitions (Age last, as kube-apiserver 1.2x orders them) and
    # limitRangeColumnDefinitions.
    "/resourcequotas": [
        (_column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may "
                 "consume."), lambda o: _quota_cells(o)[0]),
        (_column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use "
                 "independent of contention on the node."), lambda o: _quota_cells(o)[1]),
        _AGE,
    ],
    "/limitranges": [
        (_column("Created At", "date", AGE_DESCRIPTION), lambda o: _meta(o, "creationTimestamp")),
    ],
    "/events": [
        (_column("Last Seen", "string", "The time the event was last seen."),
         lambda o: age(o.get("lastTimestamp") or o.get("eventTime") or _meta(o, "creationTimestamp"))),
        (_column("Type", "string", "The type of the event."), lambda o: o.get("type", "")),
        (_column("Reason", "string", "The reason of the event."), lambda o: o.get("reason", "")),
        (_column("Object", "string", "The object the event is about."), _event_object),
        (_column("Message", "string", "The message of the event."), lambda o: o.get("message", "")),
    ],
}


def _cr_cell(column: Column, obj: dict[str, Any]) -> Any:
    value = json_path(obj, column.path)
    if value is None:
        return None
    if column.type == "string":
        return value if isinstance(value, str) else _go_text(value)
    if column.type == "date":
        return age(str(value))
    return value


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def column_definitions(resource: ResourceDef) -> list[dict[str, Any]]:
    columns = [_column("Name", "string", NAME_DESCRIPTION, format_="name")]
    if resource.custom:
        for c in resource.columns:
            columns.append(
                _column(c.name, c.type, c.description or f"Custom resource definition column (in JSONPath format): "
                        f"{c.path}", c.priority, c.format)
            )
        if not resource.columns:
            columns.append(_column("Age", "date", AGE_DESCRIPTION))
    else:
        columns.extend(definition for definition, _ in _CORE_COLUMNS.get(resource.key, [_AGE]))
    return columns


def row(resource: ResourceDef, obj: dict[str, Any], include: str = "Metadata") -> dict[str, Any]:
    cells: list[Any] = [_meta(obj, "name")]
    if resource.custom:
        cells.extend(_cr_cell(c, obj) for c in resource.columns)
        if not resource.columns:
            cells.append(age(_meta(obj, "creationTimestamp")))
    else:
        cells.extend(cell(obj) for _, cell in _CORE_COLUMNS.get(resource.key, [_AGE]))
    result: dict[str, Any] = {"cells": cells}
    if include == "Object":
        result["object"] = obj
    elif include != "None":
        metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        result["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    return result


def table(
    resource: ResourceDef,
    objects: list[dict[str, Any]],
    resource_version: str,
    include: str = "Metadata",
    continue_token: str = "",
    remaining: int | None = None,
    with_columns: bool = True,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining:
        metadata["remainingItemCount"] = remaining
    result: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    if with_columns:
        result["columnDefinitions"] = column_definitions(resource)
    result["rows"] = [row(resource, o, include) for o in objects]
    return result
