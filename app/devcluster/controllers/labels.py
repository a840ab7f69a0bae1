"""The labels and annotations Knative's controllers set and select on, in one place for every reconciler."""

from __future__ import annotations

LABEL_SERVICE = "serving.knative.dev/service"
LABEL_SERVICE_UID = "serving.knative.dev/serviceUID"
LABEL_CONFIGURATION = "serving.knative.dev/configuration"
LABEL_ROUTE = "serving.knative.dev/route"
LABEL_CONFIGURATION_UID = "serving.knative.dev/configurationUID"
LABEL_GENERATION = "serving.knative.dev/configurationGeneration"
LABEL_ROUTING_STATE = "serving.knative.dev/routingState"
LABEL_VISIBILITY = "networking.knative.dev/visibility"

ANNOTATION_CREATOR = "serving.knative.dev/creator"
ANNOTATION_LAST_MODIFIER = "serving.knative.dev/lastModifier"
ANNOTATION_ROUTES = "serving.knative.dev/routes"
ANNOTATION_ROUTING_MODIFIED = "serving.knative.dev/routingStateModified"
ANNOTATION_ROLLOUT = ("serving.knative.dev/rollout-duration", "serving.knative.dev/rolloutDuration")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
