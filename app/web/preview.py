""""What will be sent" for each dialog that writes: the exact request (method, path, body) and the same change as a
kubectl and a kn command (app.knative.commands)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.cluster import resources as r
from app.knative import commands
from app.knative.forms import ServiceDraft
from app.knative.manifests import delete_options, new_revision_patch, service_manifest, traffic_patch
from app.knative.models import Template, TrafficTarget
from app.knative.yaml_view import to_yaml

MERGE = "application/merge-patch+json"
HISTORY_NOTE = ("The console's request also carries the resourceVersion it read (so that it fails rather than "
                "overwrite someone else's change) and its history record (the new entry's time is set when you "
                "press the button); the commands leave both out.")


def _path(namespace: str, name: str = "") -> str:
    return r.SERVICE.path(namespace, name or None)


def split(namespace: str, name: str, resource_version: str, current: Sequence[TrafficTarget],
          planned: Sequence[TrafficTarget], history: str) -> commands.Preview:
    body = traffic_patch(resource_version, planned, history)
    kn, notes = commands.kn_update(name, namespace, None, None, current, planned)
    return commands.Preview("PATCH", _path(namespace, name), MERGE, commands.pretty(body),
                            commands.kubectl_patch(name, namespace, commands.without_console_fields(body)), kn,
                            (HISTORY_NOTE, *notes))


def new_revision(namespace: str, service: dict[str, Any], old: Template, template: Template,
                 planned: Sequence[TrafficTarget], current: Sequence[TrafficTarget], stamp: str, byo: str,
                 rollout: int | None, history: str) -> commands.Preview:
    """The wizard's Create; `rollout` (seconds, None for at once) sets or removes the Service's rollout-duration."""
    name = str(service["metadata"]["name"])
    body = new_revision_patch(service, template, planned, stamp, byo, rollout, history)
    kn, notes = commands.kn_update(name, namespace, old, template, current, planned, byo,
                                   commands.service_annotations(body))
    return commands.Preview("PATCH", _path(namespace, name), MERGE, commands.pretty(body),
                            commands.kubectl_patch(name, namespace, commands.without_console_fields(body)), kn,
                            (HISTORY_NOTE, *notes, commands.KN_NOTE))


def create(draft: ServiceDraft, create_id: str, history: str) -> commands.Preview:
    body = service_manifest(draft, create_id, history)
    kn, notes = commands.kn_create(draft.name, draft.namespace, draft.template, draft.cluster_local)
    note = ("The console's request also carries two annotations of its own: an id that lets a retried Create "
            "recognise the Service it made, and its history record; the commands leave both out.")
    return commands.Preview("POST", _path(draft.namespace), "application/json", commands.pretty(body),
                            commands.kubectl_apply(to_yaml(commands.without_console_fields(body))), kn,
                            (note, *notes, commands.KN_NOTE))


def delete(namespace: str, name: str, resource_version: str) -> commands.Preview:
    note = ("The console's request deletes the Service only if it is still the version shown here (the "
            "resourceVersion precondition); kubectl and kn delete whatever is there.")
    return commands.Preview("DELETE", _path(namespace, name), "application/json",
                            commands.pretty(delete_options(resource_version)),
                            commands.kubectl_delete(name, namespace), commands.kn_delete(name, namespace), (note,))
