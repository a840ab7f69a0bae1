"""Structural schemas for `meta/v1` and the core `v1` kinds, and the small builders they are written with.

Schemas are plain OpenAPI v3 dicts, so the same data is served to kubectl and walked by
`schema.py`. The core kinds are modelled more loosely than a CRD's schema: enough for
`kubectl explain`, pruning and type checks of the fields the devcluster uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]

COMPONENT_PREFIX = "#/components/schemas/"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
BUILTIN_GROUPS = frozenset({"", "apps", "rbac.authorization.k8s.io"})


@dataclass(frozen=True)
class Kind:
    """One served kind: where it lives, its schema, and how it may be patched."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: Schema
    definition: str  # key under components.schemas
    strategic_merge: bool = False
    status_subresource: bool = False

    @property
    def custom(self) -> bool:
        """A custom resource's schema (a CRD's), as opposed to a built-in Go type's."""
        return self.group not in BUILTIN_GROUPS

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gvk(self) -> dict[str, str]:
        return {"group": self.group, "version": self.version, "kind": self.kind}


def string(description: str) -> Schema:
    return {"type": "string", "description": description}


def integer(description: str, fmt: str = "int64") -> Schema:
    return {"type": "integer", "format": fmt, "description": description}


def boolean(description: str) -> Schema:
    return {"type": "boolean", "description": description}


def obj(description: str, properties: dict[str, Schema], *, preserve: bool = False) -> Schema:
    schema: Schema = {"type": "object", "description": description, "properties": properties}
    if preserve:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def array(description: str, items: Schema) -> Schema:
    return {"type": "array", "description": description, "items": items}


def string_list(description: str) -> Schema:
    return array(description, {"type": "string"})


def string_map(description: str) -> Schema:
    return {"type": "object", "description": description, "additionalProperties": {"type": "string"}}


def preserved(description: str) -> Schema:
    """An object kept as sent: modelled elsewhere (Kubernetes) and never pruned here."""
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


def int_or_string(description: str) -> Schema:
    # No anyOf beside it: with anyOf the apiserver adds two more messages per bad value.
    return {"x-kubernetes-int-or-string": True, "description": description}


def ref(definition: str, description: str) -> Schema:
    # allOf keeps the description next to the reference, as the Kubernetes v3 documents do.
    return {"allOf": [{"$ref": COMPONENT_PREFIX + definition}], "description": description}


def type_meta() -> dict[str, Schema]:
    return {
        "apiVersion": string("The versioned schema of this object, e.g. v1 or serving.knative.dev/v1."),
        "kind": string("The type of this object, in CamelCase, e.g. Service."),
    }


def object_meta_ref() -> Schema:
    return ref(OBJECT_META, "Standard object metadata: name, namespace, labels, annotations and more.")


def list_schema(kind: Kind) -> Schema:
    return {
        "type": "object",
        "description": f"A list of {kind.kind} objects.",
        "required": ["items"],
        "properties": {
            **type_meta(),
            "items": array(f"The {kind.plural}.", {"$ref": COMPONENT_PREFIX + kind.definition}),
            "metadata": ref(LIST_META, "Standard list metadata: resourceVersion and continue token."),
        },
    }


OWNER_REFERENCE = obj(
    "Points at the object that owns this one; deleting the owner deletes this object.",
    {
        "apiVersion": string("API version of the owner."),
        "kind": string("Kind of the owner."),
        "name": string("Name of the owner."),
        "uid": string("UID of the owner."),
        "controller": boolean("True when the owner is the managing controller."),
        "blockOwnerDeletion": boolean("True to keep the owner until this object is deleted."),
    },
)

MANAGED_FIELDS_ENTRY = obj(
    "Which fields one manager set, and when.",
    {
        "manager": string("Name of the field manager, e.g. kubectl-client-side-apply."),
        "operation": string("Apply or Update."),
        "apiVersion": string("API version the fields are written in."),
        "time": string("When the manager last changed these fields (RFC 3339)."),
        "fieldsType": string("Format of fieldsV1; always FieldsV1."),
        "fieldsV1": preserved("The set of managed fields, as a tree of f:<name> keys."),
        "subresource": string("The subresource written, e.g. status; empty for the main resource."),
    },
)

OBJECT_META_SCHEMA = obj(
    "Metadata every persisted object has.",
    {
        "name": string("Unique name within the namespace. Required unless generateName is set."),
        "generateName": string("Prefix the server uses to generate a unique name when name is empty."),
        "namespace": string("Namespace of the object; empty for cluster-scoped objects."),
        "selfLink": string("Deprecated; not set by the server."),
        "uid": string("Unique ID set by the server on create. Read-only."),
        "resourceVersion": string("Opaque version for optimistic concurrency and watches. Read-only."),
        "generation": integer("Incremented by the server on every change to the desired state. Read-only."),
        "creationTimestamp": string("When the object was created (RFC 3339, UTC). Read-only."),
        "deletionTimestamp": string("When deletion was requested; set by the server. Read-only."),
        "deletionGracePeriodSeconds": integer("Seconds allowed for graceful deletion. Read-only."),
        "labels": string_map("Key/value pairs for selecting and grouping objects."),
        "annotations": string_map("Key/value pairs for tools and controllers; not used for selection."),
        "ownerReferences": array("Objects this one depends on.", OWNER_REFERENCE),
        "finalizers": string_list("Keys that must be removed before the object is deleted."),
        "managedFields": array("Which manager owns which fields (server-side apply).", MANAGED_FIELDS_ENTRY),
    },
)

LIST_META_SCHEMA = obj(
    "Metadata of a list response.",
    {
        "resourceVersion": string("Version of the store when the list was read; watch from here."),
        "continue": string("Token for the next page; empty on the last page."),
        "remainingItemCount": integer("Number of items after this page, when known."),
        "selfLink": string("Deprecated; not set by the server."),
    },
)

# Bodies of PATCH and DELETE and the Status reply, referenced by the path operations.
PATCH_SCHEMA: Schema = {"type": "object", "description": "A patch document in the format named by the Content-Type."}
DELETE_OPTIONS_SCHEMA = preserved("Options for DELETE: gracePeriodSeconds, preconditions, propagationPolicy.")
STATUS_SCHEMA = preserved("The outcome of a request that does not return an object, or an error.")

META_DEFINITIONS: dict[str, Schema] = {
    OBJECT_META: OBJECT_META_SCHEMA,
    LIST_META: LIST_META_SCHEMA,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": PATCH_SCHEMA,
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": DELETE_OPTIONS_SCHEMA,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status": STATUS_SCHEMA,
}


def _core(description: str, properties: dict[str, Schema]) -> Schema:
    return obj(description, {**type_meta(), "metadata": object_meta_ref(), **properties})


CONDITION = obj(
    "One observed aspect of the object's state.",
    {
        "type": string("Condition type."),
        "status": string("True, False or Unknown."),
        "lastTransitionTime": string("When the status last changed (RFC 3339)."),
        "reason": string("CamelCase reason for the last change."),
        "message": string("Human-readable details."),
    },
)

OBJECT_REFERENCE = obj(
    "Identifies another object.",
    {
        "apiVersion": string("API version of the referent."),
        "kind": string("Kind of the referent."),
        "namespace": string("Namespace of the referent."),
        "name": string("Name of the referent."),
        "uid": string("UID of the referent."),
        "resourceVersion": string("Resource version of the referent the event is about."),
        "fieldPath": string("Part of the referent, e.g. spec.containers{name}."),
    },
)

NAMESPACE = _core(
    "A scope for names. Deleting a namespace deletes everything in it.",
    {
        "spec": obj(
            "Desired state of the namespace.",
            {"finalizers": string_list("Keys that must be removed before the namespace is deleted.")},
        ),
        "status": obj(
            "Observed state of the namespace.",
            {
                "phase": string("Active, or Terminating while the namespace is being deleted."),
                "conditions": array("Latest observations of the namespace's state.", CONDITION),
            },
        ),
    },
)

CONFIG_MAP = _core(
    "Non-secret configuration data as key/value pairs.",
    {
        "data": string_map("UTF-8 values by key."),
        "binaryData": string_map("Base64-encoded binary values by key."),
        "immutable": boolean("When true, data and binaryData can no longer be changed."),
    },
)

SERVICE_PORT = obj(
    "One port the Service exposes.",
    {
        "name": string("Name of the port; required when there is more than one."),
        "protocol": string("TCP, UDP or SCTP. Defaults to TCP."),
        "appProtocol": string("Application protocol, e.g. http or kubernetes.io/h2c."),
        "port": integer("Port the Service listens on.", "int32"),
        "targetPort": int_or_string("Port number or name on the selected pods. Defaults to port."),
        "nodePort": integer("Port on each node, for NodePort and LoadBalancer services.", "int32"),
    },
)

LOAD_BALANCER_INGRESS = obj(
    "An address of the load balancer.",
    {
        "ip": string("IP address of the load balancer."),
        "hostname": string("Host name of the load balancer."),
        "ipMode": string("VIP or Proxy: how traffic reaches the load balancer IP."),
        "ports": array("Status of each service port.", preserved("Port status: port, protocol, error.")),
    },
)

SERVICE = _core(
    "A stable name and virtual IP in front of a set of pods.",
    {
        "spec": obj(
            "Desired behaviour of the Service.",
            {
                "type": string("ClusterIP (default), NodePort, LoadBalancer or ExternalName."),
                "ports": array("Ports the Service exposes.", SERVICE_PORT),
                "selector": string_map("Pods with these labels receive the traffic."),
                "clusterIP": string("Virtual IP of the Service; None for a headless Service."),
                "clusterIPs": string_list("Virtual IPs of the Service, one per IP family."),
                "externalName": string("DNS name returned as a CNAME, for type ExternalName."),
                "externalIPs": string_list("Extra IPs on which nodes accept traffic for the Service."),
                "sessionAffinity": string("ClientIP or None."),
                "sessionAffinityConfig": preserved("Settings for ClientIP session affinity."),
                "loadBalancerIP": string("Deprecated: requested IP for a LoadBalancer."),
                "loadBalancerSourceRanges": string_list("Client CIDRs allowed through the load balancer."),
                "loadBalancerClass": string("Which load balancer implementation serves the Service."),
                "allocateLoadBalancerNodePorts": boolean("Whether a LoadBalancer also gets node ports."),
                "externalTrafficPolicy": string("Cluster or Local, for external traffic."),
                "internalTrafficPolicy": string("Cluster or Local, for traffic from inside the cluster."),
                "healthCheckNodePort": integer("Node port for load balancer health checks.", "int32"),
                "publishNotReadyAddresses": boolean("Also publish addresses of pods that are not ready."),
                "ipFamilies": string_list("IPv4 and/or IPv6."),
                "ipFamilyPolicy": string("SingleStack, PreferDualStack or RequireDualStack."),
                "trafficDistribution": string("Preference for routing, e.g. PreferClose."),
            },
        ),
        "status": obj(
            "Observed state of the Service.",
            {
                "loadBalancer": obj(
                    "State of the load balancer, for type LoadBalancer.",
                    {"ingress": array("Addresses of the load balancer.", LOAD_BALANCER_INGRESS)},
                ),
                "conditions": array("Latest observations of the Service's state.", CONDITION),
            },
        ),
    },
)

EVENT = _core(
    "A report of something that happened to an object.",
    {
        "involvedObject": OBJECT_REFERENCE,
        "reason": string("Short CamelCase reason, e.g. Created."),
        "message": string("Human-readable description."),
        "type": string("Normal or Warning."),
        "source": obj(
            "Who reported the event.",
            {"component": string("Reporting component."), "host": string("Node of the reporter.")},
        ),
        "firstTimestamp": string("When the event was first recorded (RFC 3339)."),
        "lastTimestamp": string("When the event last occurred (RFC 3339)."),
        "count": integer("How many times the event occurred.", "int32"),
        "eventTime": string("When the event first occurred, with microseconds."),
        "series": obj(
            "Data about a series of repeated events.",
            {
                "count": integer("Occurrences in the series so far.", "int32"),
                "lastObservedTime": string("Time of the last occurrence, with microseconds."),
            },
        ),
        "action": string("What was done or failed, e.g. Binding."),
        "related": OBJECT_REFERENCE,
        "reportingComponent": string("Controller that emitted the event, e.g. kubelet."),
        "reportingInstance": string("Instance of the reporting controller."),
    },
)


LOCAL_OBJECT_REFERENCE = obj("Names another object in the same namespace.", {"name": string("Name of the referent.")})

SERVICE_ACCOUNT = _core(
    "An identity for processes that run in a pod, and for clients given its tokens.",
    {
        "secrets": array("Secrets this service account may use (legacy token Secrets among them).",
                         OBJECT_REFERENCE),
        "imagePullSecrets": array("Secrets for pulling images of pods that use this account.",
                                  LOCAL_OBJECT_REFERENCE),
        "automountServiceAccountToken": boolean("Whether pods get an API token of this account mounted."),
    },
)

SECRET = _core(
    "Sensitive data as key/value pairs, e.g. a password, a token or a key.",
    {
        "data": string_map("Base64-encoded values by key."),
        "stringData": string_map("Write-only convenience: plain values merged into data on write; never read back."),
        "type": string("How the data is used, e.g. Opaque or kubernetes.io/service-account-token."),
        "immutable": boolean("When true, data can no longer be changed."),
    },
)

POLICY_RULE = obj(
    "What a role allows: verbs on resources of API groups (optionally by name), or on non-resource URLs.",
    {
        "apiGroups": string_list("API groups of the resources; \"\" is the core group, \"*\" every group."),
        "resources": string_list("Resources (e.g. pods, pods/log), \"*\" for all of them."),
        "resourceNames": string_list("Names the rule is limited to; empty means every name."),
        "nonResourceURLs": string_list("Paths such as /healthz; a trailing * matches a prefix."),
        "verbs": string_list("Verbs allowed, e.g. get, list, watch, create; \"*\" for all."),
    },
)
LABEL_SELECTOR = obj(
    "A label query.",
    {
        "matchLabels": string_map("Labels that must all be present with these values."),
        "matchExpressions": array("Requirements that must all hold.", obj(
            "A label requirement.",
            {
                "key": string("The label key."),
                "operator": string("In, NotIn, Exists or DoesNotExist."),
                "values": string_list("Values for In and NotIn."),
            },
        )),
    },
)
ROLE_REF = obj(
    "The role a binding grants.",
    {
        "apiGroup": string("API group of the role: rbac.authorization.k8s.io."),
        "kind": string("Role or ClusterRole."),
        "name": string("Name of the role."),
    },
)
SUBJECT = obj(
    "Who a binding grants its role to: a user, a group or a service account.",
    {
        "kind": string("User, Group or ServiceAccount."),
        "apiGroup": string("rbac.authorization.k8s.io for users and groups, empty for service accounts."),
        "name": string("Name of the subject."),
        "namespace": string("Namespace of a service account."),
    },
)
ROLE = _core("Namespaced rules, granted by RoleBindings.", {"rules": array("The rules of the role.", POLICY_RULE)})
CLUSTER_ROLE = _core(
    "Cluster-wide rules, granted by ClusterRoleBindings or, within a namespace, by RoleBindings.",
    {
        "rules": array("The rules of the role (filled in by the controller when aggregationRule is set).",
                       POLICY_RULE),
        "aggregationRule": obj(
            "Makes this role the union of the ClusterRoles its selectors match.",
            {"clusterRoleSelectors": array("Selectors of the ClusterRoles to aggregate.", LABEL_SELECTOR)},
        ),
    },
)
ROLE_BINDING = _core(
    "Grants a Role's or ClusterRole's rules within a namespace.",
    {"roleRef": ROLE_REF, "subjects": array("Who gets the role.", SUBJECT)},
)
CLUSTER_ROLE_BINDING = _core(
    "Grants a ClusterRole's rules across the cluster.",
    {"roleRef": ROLE_REF, "subjects": array("Who gets the role.", SUBJECT)},
)


CONTAINER = obj(
    "One container of a pod.",
    {
        "name": string("Name of the container, unique in the pod."),
        "image": string("Container image reference."),
        "command": string_list("Entrypoint, replacing the image's ENTRYPOINT."),
        "args": string_list("Arguments to the entrypoint."),
        "workingDir": string("Working directory of the container process."),
        "ports": array("Ports the container exposes.", preserved("A container port: name, containerPort, protocol.")),
        "env": array("Environment variables.", preserved("One variable: name, and value or valueFrom.")),
        "envFrom": array("Sources of many environment variables.", preserved("A ConfigMap or Secret reference.")),
        "resources": preserved("Compute resource requests and limits."),
        "volumeMounts": array("Volumes mounted into the container.", preserved("A volume mount.")),
        "livenessProbe": preserved("Restarts the container when it fails."),
        "readinessProbe": preserved("Takes the container out of service while it fails."),
        "startupProbe": preserved("Holds the other probes until the container has started."),
        "lifecycle": preserved("Actions the kubelet takes after start and before stop."),
        "terminationMessagePath": string("File the container's termination message is read from."),
        "terminationMessagePolicy": string("File, or FallbackToLogsOnError: the log's tail when the file is empty."),
        "imagePullPolicy": string("Always, Never or IfNotPresent."),
        "securityContext": preserved("Security options of the container."),
    },
    preserve=True,
)

POD_SPEC = obj(
    "Desired state of a pod.",
    {
        "containers": array("The pod's containers.", CONTAINER),
        "initContainers": array("Containers run to completion before the others start.", CONTAINER),
        "restartPolicy": string("Always, OnFailure or Never."),
        "terminationGracePeriodSeconds": integer("Seconds the pod gets to stop gracefully."),
        "dnsPolicy": string("How the pod's DNS is set up, e.g. ClusterFirst."),
        "serviceAccountName": string("ServiceAccount the pod runs as."),
        "nodeName": string("Node the pod is bound to."),
        "schedulerName": string("Scheduler that places the pod."),
        "enableServiceLinks": boolean("Whether Services' addresses are injected as environment variables."),
        "securityContext": preserved("Pod-level security options."),
        "volumes": array("Volumes the containers may mount.", preserved("A volume.")),
        "tolerations": array("Taints the pod tolerates.", preserved("A toleration.")),
        "priority": integer("Priority of the pod.", "int32"),
        "preemptionPolicy": string("PreemptLowerPriority or Never."),
    },
    preserve=True,
)

POD_TEMPLATE = obj(
    "The pods a workload creates.",
    {"metadata": object_meta_ref(), "spec": POD_SPEC},
)

CONTAINER_STATUS = obj(
    "The state of one container, as the kubelet reports it.",
    {
        "name": string("Name of the container."),
        "image": string("Image the container runs."),
        "imageID": string("Image by digest."),
        "containerID": string("Runtime's id of the container, <type>://<id>."),
        "ready": boolean("Whether the container passes its readiness probe."),
        "started": boolean("Whether the container has started."),
        "restartCount": integer("How many times the container has been restarted.", "int32"),
        "state": preserved("Current state: waiting, running or terminated."),
        "lastState": preserved("State of the container's previous run, e.g. terminated with an exit code."),
    },
    preserve=True,
)

POD = _core(
    "A group of containers that run together on one node.",
    {
        "spec": POD_SPEC,
        "status": obj(
            "Observed state of the pod.",
            {
                "phase": string("Pending, Running, Succeeded, Failed or Unknown."),
                "conditions": array("Latest observations of the pod's state.", preserved("A pod condition.")),
                "message": string("Why the pod is in this state."),
                "reason": string("CamelCase reason for the pod's state."),
                "hostIP": string("IP of the node the pod runs on."),
                "hostIPs": array("IPs of the node.", preserved("An IP.")),
                "podIP": string("IP of the pod."),
                "podIPs": array("IPs of the pod.", preserved("An IP.")),
                "startTime": string("When the kubelet acknowledged the pod (RFC 3339)."),
                "qosClass": string("Guaranteed, Burstable or BestEffort."),
                "containerStatuses": array("State of each container.", CONTAINER_STATUS),
                "initContainerStatuses": array("State of each init container.", CONTAINER_STATUS),
            },
            preserve=True,
        ),
    },
)


def _workload(description: str, spec_fields: dict[str, Schema], status_fields: dict[str, Schema]) -> Schema:
    return _core(
        description,
        {
            "spec": obj(
                "Desired state.",
                {
                    "replicas": integer("Desired number of pods.", "int32"),
                    "selector": preserved("Label selector of the pods it owns."),
                    "template": POD_TEMPLATE,
                    "minReadySeconds": integer("Seconds a new pod must be ready to count as available.", "int32"),
                    **spec_fields,
                },
            ),
            "status": obj(
                "Observed state.",
                {
                    "observedGeneration": integer("The generation the controller last acted on."),
                    "replicas": integer("Pods it has.", "int32"),
                    "readyReplicas": integer("Pods that are ready.", "int32"),
                    "availableReplicas": integer("Pods ready for at least minReadySeconds.", "int32"),
                    "conditions": array("Latest observations.", preserved("A condition.")),
                    **status_fields,
                },
                preserve=True,
            ),
        },
    )


DEPLOYMENT = _workload(
    "Declarative updates of pods through ReplicaSets.",
    {
        "strategy": preserved("How old pods are replaced: RollingUpdate or Recreate."),
        "revisionHistoryLimit": integer("Old ReplicaSets kept for rollbacks.", "int32"),
        "progressDeadlineSeconds": integer("Seconds before a stalled rollout is reported.", "int32"),
        "paused": boolean("Whether the rollout is paused."),
    },
    {
        "updatedReplicas": integer("Pods of the newest template.", "int32"),
        "unavailableReplicas": integer("Pods not yet available.", "int32"),
        "collisionCount": integer("Hash collisions of the pod template.", "int32"),
    },
)

REPLICA_SET = _workload(
    "Keeps a number of identical pods running.",
    {},
    {"fullyLabeledReplicas": integer("Pods whose labels match the template's.", "int32")},
)


RESOURCE_LIST = {"type": "object", "description": "Amounts by resource name, e.g. cpu: 500m, memory: 1Gi.",
                 "additionalProperties": int_or_string("A quantity.")}

RESOURCE_QUOTA = _core(
    "Limits on what a namespace's objects may use in total.",
    {
        "spec": obj(
            "The limits.",
            {
                "hard": {**RESOURCE_LIST, "description": "The most of each resource the namespace may use."},
                "scopes": string_list("Which objects the quota counts, e.g. NotTerminating."),
                "scopeSelector": preserved("Which objects the quota counts, as a selector over scopes."),
            },
        ),
        "status": obj(
            "What the namespace uses now.",
            {
                "hard": {**RESOURCE_LIST, "description": "The limits the quota enforces."},
                "used": {**RESOURCE_LIST, "description": "What the namespace uses of each."},
            },
        ),
    },
)

LIMIT_RANGE_ITEM = obj(
    "Limits for one kind of object.",
    {
        "type": string("Container, Pod or PersistentVolumeClaim."),
        "max": {**RESOURCE_LIST, "description": "The most each may have."},
        "min": {**RESOURCE_LIST, "description": "The least each may have."},
        "default": {**RESOURCE_LIST, "description": "The limits a container without them gets."},
        "defaultRequest": {**RESOURCE_LIST, "description": "The requests a container without them gets."},
        "maxLimitRequestRatio": {**RESOURCE_LIST, "description": "The largest limit-to-request ratio allowed."},
    },
)

LIMIT_RANGE = _core(
    "Limits on what each pod or container in a namespace may ask for, and the defaults they get.",
    {"spec": obj("The limits.", {"limits": array("The limits, one item per type.", LIMIT_RANGE_ITEM)})},
)

NODE = _core(
    "A worker machine: what it offers pods and how it is.",
    {
        "spec": obj("How the node is set up.", {
            "podCIDR": string("The pod IP range assigned to the node."),
            "podCIDRs": string_list("The pod IP ranges assigned to the node."),
            "providerID": string("The node's ID at its provider."),
            "unschedulable": boolean("Whether new pods may not be scheduled onto the node."),
        }),
        "status": preserved("What the node offers (capacity, allocatable), its conditions, addresses and info."),
    },
)


def _core_kind(kind: str, plural: str, namespaced: bool, schema: Schema, **flags: bool) -> Kind:
    return Kind("", "v1", kind, plural, namespaced, schema, f"io.k8s.api.core.v1.{kind}", **flags)


def _rbac_kind(kind: str, plural: str, namespaced: bool, schema: Schema) -> Kind:
    return Kind("rbac.authorization.k8s.io", "v1", kind, plural, namespaced, schema,
                f"io.k8s.api.rbac.v1.{kind}")


# Only namespaces are listed with strategic merge patch: the devcluster implements it for them alone.
CORE_KINDS = (
    _core_kind("Namespace", "namespaces", False, NAMESPACE, strategic_merge=True, status_subresource=True),
    _core_kind("ConfigMap", "configmaps", True, CONFIG_MAP),
    _core_kind("Service", "services", True, SERVICE, status_subresource=True),
    _core_kind("Event", "events", True, EVENT),
    _core_kind("ServiceAccount", "serviceaccounts", True, SERVICE_ACCOUNT),
    _core_kind("Secret", "secrets", True, SECRET),
    _rbac_kind("Role", "roles", True, ROLE),
    _rbac_kind("ClusterRole", "clusterroles", False, CLUSTER_ROLE),
    _rbac_kind("RoleBinding", "rolebindings", True, ROLE_BINDING),
    _rbac_kind("ClusterRoleBinding", "clusterrolebindings", False, CLUSTER_ROLE_BINDING),
    _core_kind("Pod", "pods", True, POD, status_subresource=True),
    _core_kind("Node", "nodes", False, NODE, status_subresource=True),
    Kind("apps", "v1", "Deployment", "deployments", True, DEPLOYMENT, "io.k8s.api.apps.v1.Deployment",
         status_subresource=True),
    Kind("apps", "v1", "ReplicaSet", "replicasets", True, REPLICA_SET, "io.k8s.api.apps.v1.ReplicaSet",
         status_subresource=True),
    _core_kind("ResourceQuota", "resourcequotas", True, RESOURCE_QUOTA, status_subresource=True),
    _core_kind("LimitRange", "limitranges", True, LIMIT_RANGE),
)
