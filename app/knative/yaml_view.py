"""Knative objects as YAML a user would commit to git: without what the cluster added (status, metadata the API
server keeps, the annotations Knative, kubectl and the console write, Knative's defaults) unless everything is asked
for.

What counts as a default is what Knative's defaulting webhook writes with the stock `config-defaults`
(`pkg/apis/serving/v1/*_defaults.go`: `timeoutSeconds: 300`, `containerConcurrency: 0`, `enableServiceLinks: false`,
the container name `user-container`, `resources: {}`, the readiness probe `tcpSocket: {port: 0}` with
`successThreshold: 1`, `latestRevision: false` beside a revision name, and a Service's traffic of 100% to the latest
revision) and what the API server adds (`protocol: TCP` on ports). A value that equals a default is left out; one
that differs stays, so applying the clean form gives back the same object.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

# Metadata the API server and the controllers keep: never part of what a user writes.
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers")
# Annotations written by Knative's webhook and controllers, kubectl, kn and the console itself.
WRITTEN_ANNOTATIONS = ("serving.knative.dev/creator", "serving.knative.dev/lastModifier",
                       "serving.knative.dev/routes", "serving.knative.dev/routingStateModified",
                       "kubectl.kubernetes.io/last-applied-configuration", "client.knative.dev/updateTimestamp")
WRITTEN_PREFIXES = ("knative-console/",)
# Labels Knative's controllers put on the objects they make (a revision's).
WRITTEN_LABELS = ("serving.knative.dev/configuration", "serving.knative.dev/configurationUID",
                  "serving.knative.dev/configurationGeneration", "serving.knative.dev/service",
                  "serving.knative.dev/serviceUID", "serving.knative.dev/routingState", "serving.knative.dev/route")
DEFAULT_PROBE = {"successThreshold": 1, "tcpSocket": {"port": 0}}
DEFAULT_TRAFFIC = [{"latestRevision": True, "percent": 100}]


def _drop_keys(mapping: Any, keys: tuple[str, ...], prefixes: tuple[str, ...] = ()) -> None:
    if isinstance(mapping, dict):
        for key in list(mapping):
            if key in keys or key.startswith(prefixes):
                del mapping[key]


def _drop_if_empty(parent: dict[str, Any], key: str) -> None:
    if parent.get(key) in ({}, [], None):
        parent.pop(key, None)


def _clean_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict):
        return
    _drop_keys(metadata, SERVER_METADATA)
    _drop_keys(metadata.get("annotations"), WRITTEN_ANNOTATIONS, WRITTEN_PREFIXES)
    _drop_keys(metadata.get("labels"), WRITTEN_LABELS)
    for key in ("annotations", "labels"):
        _drop_if_empty(metadata, key)


def _clean_container(container: Any, only: bool) -> None:
    if not isinstance(container, dict):
        return
    if only and container.get("name") == "user-container":
        del container["name"]
    if container.get("readinessProbe") == DEFAULT_PROBE:
        del container["readinessProbe"]
    for port in container.get("ports") or []:
        if isinstance(port, dict) and port.get("protocol") == "TCP":
            del port["protocol"]
    _drop_if_empty(container, "resources")


def _clean_pod_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    for key, default in (("timeoutSeconds", 300), ("containerConcurrency", 0), ("enableServiceLinks", False)):
        if type(spec.get(key)) is type(default) and spec[key] == default:  # 0 is not False
            del spec[key]
    found = spec.get("containers")
    containers = found if isinstance(found, list) else []
    for container in containers:
        _clean_container(container, len(containers) == 1)


def _clean_traffic(spec: dict[str, Any]) -> None:
    traffic = spec.get("traffic")
    if traffic == DEFAULT_TRAFFIC:
        del spec["traffic"]
        return
    for target in traffic if isinstance(traffic, list) else []:
        if isinstance(target, dict) and target.get("revisionName") and target.get("latestRevision") is False:
            del target["latestRevision"]


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Service or Revision as a user would write it: what the cluster added left out."""
    result = copy.deepcopy(obj)
    result.pop("status", None)
    _clean_metadata(result.get("metadata"))
    spec = result.get("spec")
    if not isinstance(spec, dict):
        return result
    if result.get("kind") == "Revision":
        _clean_pod_spec(spec)
        return result
    template = spec.get("template")
    if isinstance(template, dict):
        _clean_metadata(template.get("metadata"))
        _drop_if_empty(template, "metadata")
        _clean_pod_spec(template.get("spec"))
    _clean_traffic(spec)
    return result


class _Dumper(yaml.SafeDumper):
    """kubectl's layout: keys in the API's order, block style, multi-line strings as literal blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def to_yaml(obj: Any) -> str:
    return str(yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                         width=4096))


def document(obj: dict[str, Any], everything: bool = False) -> str:
    """The YAML of `obj`: clean, or as the API gives it (status and all) when `everything` is asked for."""
    return to_yaml(obj if everything else clean(obj))
