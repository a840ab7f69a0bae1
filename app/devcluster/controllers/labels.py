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
LABEL_REVISION = "serving.knative.dev/revision"
LABEL_REVISION_UID = "serving.knative.dev/revisionUID"
LABEL_ROUTE_NAMESPACE = "serving.knative.dev/routeNamespace"
LABEL_POD_TEMPLATE_HASH = "pod-template-hash"
LABEL_APP = "app"
LABEL_SKS_PRIVATE = "networking.internal.knative.dev/serviceType"
ANNOTATION_INGRESS_CLASS = "networking.knative.dev/ingress.class"
ANNOTATION_ROLLOUT_STATE = "networking.internal.knative.dev/rollout"  # the KIngress's record of a rollout
# The dev cluster's own mark on a revision's pod template: its container exits with this code when it starts
# (decided from devcluster-system/images when the Deployment is made, so later edits leave it alone).
ANNOTATION_SIMULATED_EXIT = "devcluster/simulated-exit-code"
# ... and, for an image listed under `unready`, that its container runs but never passes its readiness probe.
ANNOTATION_SIMULATED_UNREADY = "devcluster/simulated-unready"
