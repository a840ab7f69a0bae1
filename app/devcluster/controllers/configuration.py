"""Configuration → one Revision per template generation, named `<configuration>-%05d` or as the user chose."""

from __future__ import annotations

import copy
from typing import Any

from app.devcluster.admission.names import child_name
from app.devcluster.controllers import conditions
from app.devcluster.controllers.context import Context, controlled_by, controller_reference
from app.devcluster.controllers.labels import (
    ANNOTATION_CREATOR,
    ANNOTATION_LAST_MODIFIER,
    ANNOTATION_ROUTES,
    ANNOTATION_ROUTING_MODIFIED,
    LABEL_CONFIGURATION,
    LABEL_CONFIGURATION_UID,
    LABEL_GENERATION,
    LABEL_ROUTING_STATE,
    LABEL_SERVICE,
    LABEL_SERVICE_UID,
)
from app.devcluster.crds.resources import CONFIGURATION, REVISION


def revision_name(configuration: dict[str, Any]) -> str:
    template = (configuration.get("spec") or {}).get("template") or {}
    byo = (template.get("metadata") or {}).get("name")
    if byo:
        return str(byo)
    return child_name(configuration["metadata"]["name"], f"-{configuration['metadata'].get('generation', 1):05d}")


def made_for(revision: dict[str, Any], configuration: dict[str, Any]) -> bool:
    """Whether an existing revision with the wanted name may stand for the configuration's generation.

    As Knative's CheckNameAvailability: a BYO name may point back at an older revision of this
    Configuration only while the template's spec is unchanged; otherwise the name is taken.
    """
    if not controlled_by(revision, configuration):
        return False
    generation = (revision["metadata"].get("labels") or {}).get(LABEL_GENERATION)
    if generation == str(configuration["metadata"].get("generation", 1)):
        return True
    template = (configuration.get("spec") or {}).get("template") or {}
    return revision.get("spec") == (template.get("spec") or {})


def desired_revision(ctx: Context, configuration: dict[str, Any], name: str) -> dict[str, Any]:
    meta = configuration["metadata"]
    template = copy.deepcopy((configuration.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    config_labels = meta.get("labels") or {}
    labels.update({
        LABEL_CONFIGURATION: meta["name"],
        LABEL_GENERATION: str(meta.get("generation", 1)),
        LABEL_CONFIGURATION_UID: meta["uid"],
        LABEL_ROUTING_STATE: "pending",
    })
    for key in (LABEL_SERVICE, LABEL_SERVICE_UID):
        if key in config_labels:
            labels[key] = config_labels[key]
    annotations = dict(template_meta.get("annotations") or {})
    config_annotations = meta.get("annotations") or {}
    creator = config_annotations.get(ANNOTATION_LAST_MODIFIER) or config_annotations.get(ANNOTATION_CREATOR)
    if creator:
        annotations[ANNOTATION_CREATOR] = creator
    if ANNOTATION_ROUTES in config_annotations:
        annotations[ANNOTATION_ROUTES] = config_annotations[ANNOTATION_ROUTES]
    annotations[ANNOTATION_ROUTING_MODIFIED] = ctx.now()
    return {
        "apiVersion": REVISION.api_version,
        "kind": REVISION.kind,
        "metadata": {
            "name": name, "namespace": meta["namespace"], "labels": labels, "annotations": annotations,
            "ownerReferences": [controller_reference(configuration)],
        },
        "spec": template.get("spec") or {},
    }


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    configuration = ctx.get(CONFIGURATION, namespace, name)
    if configuration is None or configuration["metadata"].get("deletionTimestamp"):
        return
    generation = configuration["metadata"].get("generation", 1)
    previous = configuration.get("status") or {}
    conds = conditions.ConditionSet(previous.get("conditions"), ctx.now(), "Ready", ())
    status: dict[str, Any] = {"observedGeneration": generation}
    latest_ready = previous.get("latestReadyRevisionName", "")
    if latest_ready and ctx.get(REVISION, namespace, latest_ready) is None:
        latest_ready = ""
        deleted = previous.get("latestReadyRevisionName")
    else:
        deleted = ""

    name_wanted = revision_name(configuration)
    revision = ctx.get(REVISION, namespace, name_wanted)
    if revision is None:
        revision = ctx.write(REVISION, desired_revision(ctx, configuration, name_wanted), None)
        if revision is None:
            conds.set("Ready", "False", "RevisionFailed",
                      f'Revision creation failed with message: could not create revision "{name_wanted}".')
        else:
            ctx.record(configuration, "Created", f'Created Revision "{name_wanted}"')
    elif not made_for(revision, configuration):
        conds.set("Ready", "False", "RevisionFailed",
                  f'Revision creation failed with message: revisions.serving.knative.dev "{name_wanted}" already '
                  "exists.")
        revision = None

    if revision is not None:
        status["latestCreatedRevisionName"] = name_wanted
        ready = conditions.get((revision.get("status") or {}).get("conditions") or [], "Ready")
        state = ready.get("status", "Unknown") if ready else "Unknown"
        if state == "True":
            if latest_ready != name_wanted:
                ctx.record(configuration, "LatestReadyUpdate", f'LatestReadyRevisionName updated to "{name_wanted}"')
            latest_ready = name_wanted
            conds.set("Ready", "True")
        elif state == "False":
            message = (ready or {}).get("message", "")
            conds.set("Ready", "False", "RevisionFailed", f'Revision "{name_wanted}" failed with message: {message}.')
            before = conditions.get(previous.get("conditions") or [], "Ready") or {}
            if before.get("status") != "False" or previous.get("latestCreatedRevisionName") != name_wanted:
                ctx.record(configuration, "LatestCreatedFailed", f'Latest created revision "{name_wanted}" has failed',
                           kind="Warning")
        elif deleted:
            conds.set("Ready", "False", "RevisionDeleted", f'Revision "{deleted}" was deleted.')
        else:
            conds.set("Ready", "Unknown")
    elif "latestCreatedRevisionName" in previous:
        status["latestCreatedRevisionName"] = previous["latestCreatedRevisionName"]
    if latest_ready:
        status["latestReadyRevisionName"] = latest_ready
    status["conditions"] = conds.result()
    ctx.write_status(CONFIGURATION, configuration, {k: status[k] for k in sorted(status)})
