"""The dev cluster's one Node, `devcluster`, as its kubelet registers it and keeps its status: capacity and
allocatable (cpu, memory, pods) from the command line, the four conditions a healthy kubelet posts, its addresses and
its system info. Users may read it (`kubectl get nodes`, `kubectl describe node devcluster`); only the cluster writes
it.

The conditions' reasons and messages are the kubelet's (pkg/kubelet/nodestatus/setters.go); 110 pods is the kubelet's
default --max-pods.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from app.devcluster.apiserver.node_flags import DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS
from app.devcluster.apiserver.resources import NODE
from app.devcluster.apiserver.rest import Rest

NODE_NAME = "devcluster"
NODE_IP = "10.0.0.2"
KUBELET_VERSION = "v1.33.0-devcluster"  # as the API server's /version says
MANAGER = "kubelet"
# (type, status, reason, message) as a healthy kubelet posts them.
CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


@dataclass(frozen=True)
class NodeSize:
    """What the node offers pods: cpu and memory as Kubernetes quantities (`8`, `16Gi`), and how many pods."""

    cpu: str = DEFAULT_CPU
    memory: str = DEFAULT_MEMORY
    pods: int = DEFAULT_PODS

    def resources(self) -> dict[str, str]:
        return {"cpu": self.cpu, "ephemeral-storage": "100Gi", "memory": self.memory, "pods": str(self.pods)}


def _id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def node_object(size: NodeSize) -> dict[str, Any]:
    """The Node as the kubelet registers it (without the server's metadata and status times)."""
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE_NAME, "labels": {
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": "",
        }, "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                           "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"], "providerID": f"devcluster://{NODE_NAME}"},
    }


def node_status(size: NodeSize, stamp: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Its status: what the node offers (the same as capacity: nothing is reserved for the system), the conditions
    (their transition times kept from `previous`), addresses and system info."""
    before = {c.get("type"): c for c in ((previous or {}).get("status") or {}).get("conditions") or []
              if isinstance(c, dict)}
    conditions = []
    for kind, status, reason, message in CONDITIONS:
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        conditions.append({"type": kind, "status": status, "lastHeartbeatTime": stamp,
                           "lastTransitionTime": since or stamp, "reason": reason, "message": message})
    return {
        "capacity": size.resources(), "allocatable": size.resources(), "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": NODE_NAME}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": _id("machine"), "systemUUID": _id("system"), "bootID": _id("boot"),
            "kernelVersion": "6.8.0-devcluster", "osImage": "Knative Console dev cluster (no containers run)",
            "containerRuntimeVersion": "containerd://1.7.27", "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux", "architecture": "amd64",
        },
    }


def register(rest: Rest, size: NodeSize) -> dict[str, Any]:
    """Create the Node, or bring an existing one's status up to this start's size (the kubelet's status update)."""
    node = rest.store.get(NODE.key, "", NODE_NAME)
    if node is None:
        node = rest.system_write(NODE, node_object(size), None, MANAGER)
    new = {**node, "metadata": dict(node["metadata"]), "status": node_status(size, rest.now(), node)}
    return rest.system_write(NODE, new, node, MANAGER, "status")
