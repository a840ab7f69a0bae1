"""What Knative's webhooks hit before any rule: reading the object into Go types, where a value of the wrong
shape stops the request with Go's own decoding error (`cannot decode incoming new object: ...`).

Resource quantities are the values a user types most: `resources.limits.cpu: abc` is refused here with
apimachinery's `resource.Quantity` error, as a real cluster refuses it.
"""

from __future__ import annotations

from typing import Any

from app.devcluster.apiserver.quantity import json_text

from .goparse import quantity_error


class Undecodable(Exception):
    """The object cannot be read into Knative's Go types; the message is Go's error."""


def check_decodable(kind: str, obj: dict[str, Any]) -> None:
    spec = _dict(obj.get("spec"))
    if kind in ("Service", "Configuration"):
        pod = _dict(_dict(spec.get("template")).get("spec"))
    elif kind == "Revision":
        pod = spec
    else:
        return
    for key in ("containers", "initContainers"):
        containers = pod.get(key)
        for container in containers if isinstance(containers, list) else []:
            if isinstance(container, dict) and isinstance(container.get("resources"), dict):
                _check_resources(container["resources"])


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _check_resources(resources: dict[str, Any]) -> None:
    for part in ("limits", "requests"):
        amounts = resources.get(part)
        if not isinstance(amounts, dict):
            continue
        for value in amounts.values():
            problem = quantity_error(json_text(value))
            if problem is not None and value is not None:
                raise Undecodable(problem)


