"""Knative Serving's admission webhooks, plugged into the API server's write pipeline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.devcluster.admission import admission
from app.devcluster.admission.decoding import Undecodable, check_decodable
from app.devcluster.admission.validation_annotations import UNTOUCHED, ClusterAutoscaling
from app.devcluster.apiserver.errors import ApiError
from app.devcluster.apiserver.resources import ResourceDef
from app.devcluster.crds.resources import KNATIVE_GROUP

log = logging.getLogger("devcluster.webhooks")
DEFAULTING = "webhook.serving.knative.dev"


def _undecodable(webhook: str, verb: str, error: Exception) -> ApiError:
    """What Knative's webhook answers when it cannot read the object into its Go types."""
    log.info("%s could not read an object: %r", webhook, error)
    return ApiError(
        400, "BadRequest",
        f'admission webhook "{webhook}" denied the request: {verb} failed: cannot decode incoming new object: '
        f"the object does not have the shape of a Knative resource ({type(error).__name__})",
    )


class KnativeWebhooks:
    """Defaulting (`webhook.serving.knative.dev`) and validation (`validation.webhook.serving.knative.dev`).

    `autoscaling` reads knative-serving/config-autoscaler as it is now (its last valid settings), as Knative's webhook
    reads it through its config store; until the cluster points it at the ConfigMap, an untouched one's defaults.
    """

    def __init__(self, autoscaling: Callable[[], ClusterAutoscaling] = lambda: UNTOUCHED) -> None:
        self.autoscaling = autoscaling

    def mutate(
        self, resource: ResourceDef, operation: str, obj: dict[str, Any], old: dict[str, Any] | None, user: str
    ) -> None:
        if resource.group != KNATIVE_GROUP:
            return
        try:
            check_decodable(resource.kind, obj)
        except Undecodable as error:
            raise ApiError(
                400, "BadRequest",
                f'admission webhook "{DEFAULTING}" denied the request: mutation failed: cannot decode incoming new '
                f"object: {error}",
            ) from None
        try:
            admission.default(resource.kind, operation, obj, old, user)
        except (TypeError, AttributeError, ValueError, KeyError, IndexError) as error:
            raise _undecodable(DEFAULTING, "mutation", error) from None

    def validate(
        self, resource: ResourceDef, operation: str, obj: dict[str, Any], old: dict[str, Any] | None, user: str
    ) -> list[str]:
        if resource.group != KNATIVE_GROUP:
            return []
        try:
            return admission.validate(resource.kind, operation, obj, old, self.autoscaling())
        except admission.AdmissionDenied as denied:
            raise ApiError(400, "BadRequest", denied.message) from None
        except (TypeError, AttributeError, ValueError, KeyError, IndexError) as error:
            raise _undecodable(admission.WEBHOOK, "validation", error) from None
