"""The REST verbs over stored objects: get, list, create, update, patch, delete.

Each write runs the apiserver's pipeline in its order: decode, system fields, mutating
admission, schema and metadata validation (422), validating admission (webhook 400s),
preconditions, then one committed transaction. No await sits between reading the current
object and committing the change, so a write is atomic on the event loop.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.devcluster.apiserver import builtins, decode, deletion, errors, fieldmanager, objects, paging, selection
from app.devcluster.apiserver.patch import json_patch, merge_patch, not_an_object, strategic_merge_patch
from app.devcluster.apiserver.resources import CORE_SERVICE, NAMESPACE, POD, ResourceDef
from app.devcluster.apiserver.selectors import FieldSelector, LabelSelector
from app.devcluster.apiserver.store import Change, Store
from app.devcluster.apiserver.users import ADMIN, UserInfo


class Admission(Protocol):
    """Admission webhooks: mutation before the schema checks, validation after them."""

    def mutate(
        self, resource: ResourceDef, operation: str, obj: dict[str, Any], old: dict[str, Any] | None, user: str
    ) -> None: ...

    def validate(
        self, resource: ResourceDef, operation: str, obj: dict[str, Any], old: dict[str, Any] | None, user: str
    ) -> list[str]: ...


class NoAdmission:
    def mutate(self, resource, operation, obj, old, user) -> None:  # noqa: ANN001
        return None

    def validate(self, resource, operation, obj, old, user) -> list[str]:  # noqa: ANN001
        return []


class Guard(Protocol):
    """A check some kinds' storage makes of the user's own rights before a write (RBAC's escalation prevention)."""

    def check(self, resource: ResourceDef, user: UserInfo | None, namespace: str, obj: dict[str, Any],
              old: dict[str, Any] | None) -> None: ...


class PodPlugin(Protocol):
    """Built-in admission plugins on pod creation (LimitRanger, ResourceQuota): they run for every client, the
    cluster's own controllers too; `mutate` with the mutating plugins, `validate` with the validating ones."""

    def mutate(self, namespace: str, pod: dict[str, Any]) -> None: ...

    def validate(self, namespace: str, pod: dict[str, Any]) -> None: ...


class Schema(Protocol):
    def check(self, resource: ResourceDef, obj: dict[str, Any], field_validation: str) -> list[str]: ...


class NoSchema:
    def check(self, resource, obj, field_validation) -> list[str]:  # noqa: ANN001
        return []


@dataclass
class Call:
    """One request's parameters, already parsed by the HTTP layer."""

    resource: ResourceDef
    namespace: str
    name: str = ""
    subresource: str = ""
    user: str = ADMIN  # the user's name, as admission sees it
    manager: str = ""
    dry_run: bool = False
    field_validation: str = ""
    force: bool | None = None
    warnings: list[str] = field(default_factory=list)
    user_info: UserInfo | None = None  # who asks, groups and all; None for the cluster's own writes


def kind_list(resource: ResourceDef) -> str:
    return f"{resource.kind}List"


class Rest:
    def __init__(self, store: Store, admission: Admission | None = None, schema: Schema | None = None) -> None:
        self.store = store
        self.admission: Admission = admission or NoAdmission()
        self.schema: Schema = schema or NoSchema()
        self.guards: list[Guard] = []
        self.pod_plugins: list[PodPlugin] = []
        self.now: Callable[[], str] = objects.now
        # Services found by their ClusterIPs: the index must be there before the store opens (DevCluster makes it so).
        store.add_index(CORE_SERVICE.key, CLUSTER_IP, _cluster_ips)

    # -- reads ------------------------------------------------------------------------------

    def get(self, call: Call) -> dict[str, Any]:
        obj = self.store.get(call.resource.key, call.namespace, call.name)
        if obj is None:
            raise errors.not_found(call.resource.plural, call.resource.group, call.name)
        return obj

    def select(
        self, resource: ResourceDef, namespace: str, labels: LabelSelector, fields: FieldSelector
    ) -> list[str]:
        """Keys of the selected objects, in etcd's order."""
        return selection.select(self.store, resource, namespace, labels, fields)

    def list(
        self,
        resource: ResourceDef,
        namespace: str,
        labels: LabelSelector,
        fields: FieldSelector,
        limit: int = 0,
        continue_token: str = "",
        rv_match: str = "",
        rv: str = "",
    ) -> tuple[list[str], dict[str, Any]]:
        """One page of the selected objects' keys, and the list's metadata."""
        current = self.store.rv
        if rv_match == "Exact" and rv and rv != str(current):
            raise errors.expired(f"too old resource version: {rv} ({self.store.oldest_retained + 1})")
        keys = self.select(resource, namespace, labels, fields)
        list_rv = current
        if continue_token:
            token_rv, start = paging.decode_continue(continue_token)
            if token_rv < self.store.oldest_retained:
                raise errors.expired(paging.CONTINUE_TOO_OLD)
            list_rv = token_rv
            keys = keys[bisect.bisect_right(keys, start):]
        metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if limit and len(keys) > limit:
            metadata["continue"] = paging.encode_continue(list_rv, keys[limit - 1])
            metadata["remainingItemCount"] = len(keys) - limit
            keys = keys[:limit]
        return keys, metadata

    # -- create -----------------------------------------------------------------------------

    def create(self, call: Call, body: Any, managed: bool = False, admit: bool = True) -> dict[str, Any]:
        resource = call.resource
        obj = decode.decoded(resource, body)
        metadata = obj["metadata"]
        if resource.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != call.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = call.namespace
            self._check_namespace_open(call)
        else:
            metadata.pop("namespace", None)
        generated = False
        if not metadata.get("name") and metadata.get("generateName"):
            if not isinstance(metadata["generateName"], str):
                raise errors.bad_request("metadata.generateName must be a string")
            metadata["name"] = objects.generate_name(metadata["generateName"])
            generated = True
        stamp = self.now()
        if resource.has_status:
            obj.pop("status", None)
        if resource is CORE_SERVICE:
            builtins.prepare_create(resource, obj, _TakenIPs(self.store), self.store.count(CORE_SERVICE.key))
        else:
            builtins.prepare_create(resource, obj)
        objects.set_create_fields(resource, obj, stamp)
        # Decoding comes first in a real apiserver: type errors (422) and unknown fields are
        # answered before any webhook sees the object.
        self._check_schema(call, obj)
        if admit:
            self.admission.mutate(resource, "CREATE", obj, None, call.user)
        if resource is POD:
            for plugin in self.pod_plugins:  # mutating admission: LimitRanger's defaults
                plugin.mutate(call.namespace, obj)
            builtins.prepare_pod(obj)  # its strategy's PrepareForCreate, after mutating admission
        if admit:
            self._validate(call, "CREATE", obj, None)
        if resource is POD:
            for plugin in self.pod_plugins:  # validating admission: LimitRanger's limits, then ResourceQuota
                plugin.validate(call.namespace, obj)
        existing = self.store.get(resource.key, call.namespace if resource.namespaced else "", metadata["name"])
        if existing is not None:
            raise errors.already_exists(resource.plural, resource.group, metadata["name"], generated)
        if not managed:
            fieldmanager.record_update(None, obj, call.manager, resource.api_version, stamp)
        if call.dry_run:
            return obj
        self.store.commit([Change("ADDED", resource.key, obj)])
        return obj

    # -- update and patch -------------------------------------------------------------------

    def update(self, call: Call, body: Any) -> dict[str, Any]:
        resource = call.resource
        new = decode.decoded(resource, body)
        decode.check_identity(resource, call.namespace, call.name, new)
        old = self.get(call)
        rv = new["metadata"].get("resourceVersion")
        if not rv and resource.custom and call.subresource == "":
            raise errors.invalid(
                resource.plural, resource.group, call.name,
                [("FieldValueInvalid", "metadata.resourceVersion",
                  "Invalid value: 0x0: must be specified for an update")],
            )
        return self._update(call, old, new)

    def patch(self, call: Call, patch_type: str, body: Any) -> tuple[int, dict[str, Any]]:
        resource = call.resource
        old = self.store.get(resource.key, call.namespace, call.name)
        if patch_type == "apply":
            if not isinstance(body, dict):
                raise not_an_object(body)
            if not isinstance(body.get("metadata", {}), dict):
                raise errors.bad_request(
                    f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
                    "metadata must be an object"
                )
            if old is None:
                if call.subresource:
                    raise errors.not_found(resource.plural, resource.group, call.name)
                applied = fieldmanager.apply(
                    None, body, call.manager, resource.api_version, self.now(), bool(call.force)
                )
                applied.setdefault("metadata", {})["name"] = call.name
                return 201, self.create(call, applied, managed=True)
            new = fieldmanager.apply(
                old, body, call.manager, resource.api_version, self.now(), bool(call.force), call.subresource
            )
            decode.check_identity(resource, call.namespace, call.name, new, patching=True)
            return 200, self._update(call, old, new, managed=True)
        if old is None:
            raise errors.not_found(resource.plural, resource.group, call.name)
        if patch_type == "merge":
            if not isinstance(body, dict):
                raise not_an_object(body)
            new = merge_patch(old, body)
        elif patch_type == "strategic":
            if not isinstance(body, dict):
                raise not_an_object(body)
            new = strategic_merge_patch(old, body)
        else:
            new = json_patch(old, body)
        if not isinstance(new, dict):
            raise not_an_object(new)
        if decode.deeper_than(new, decode.MAX_DEPTH):
            raise decode.too_deep()
        decode.check_metadata_types(resource, new)
        new = copy.deepcopy(new)
        decode.check_identity(resource, call.namespace, call.name, new, patching=True)
        return 200, self._update(call, old, new)

    def _update(
        self, call: Call, old: dict[str, Any], new: dict[str, Any], managed: bool = False, admit: bool = True
    ) -> dict[str, Any]:
        resource = call.resource
        metadata = new.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        rv = metadata.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(resource.plural, resource.group, call.name, errors.OPTIMISTIC_LOCK)
        uid = metadata.get("uid")
        if uid and uid != old["metadata"]["uid"]:
            raise errors.conflict(
                resource.plural, resource.group, call.name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {old['metadata']['uid']}",
            )
        new["apiVersion"], new["kind"] = resource.api_version, resource.kind
        objects.restore_system_fields(resource, new, old)
        metadata["resourceVersion"] = old["metadata"]["resourceVersion"]
        if resource.namespaced:
            metadata["namespace"] = old["metadata"]["namespace"]
        stamp = self.now()
        if call.subresource == "status":
            status = new.get("status")
            managed_fields = metadata.get("managedFields")
            # The stored object with the new status, sharing the rest with it (stored objects are never changed in
            # place; metadata, which this write changes, is its own): a copy of the whole would be most of the
            # write's time for an object with a long spec.
            new = {**old, "metadata": dict(old["metadata"])}
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if managed and managed_fields is not None:
                new["metadata"]["managedFields"] = managed_fields
            # Only what this write brings is checked and pruned: the rest is the stored object, checked when written.
            sent: dict[str, Any] = {key: new[key] for key in ("apiVersion", "kind", "metadata", "status") if key in new}
            self._check_schema(call, sent)
            if "status" not in sent:
                new.pop("status", None)
        else:
            if resource.has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            builtins.prepare_update(resource, new, old)
            self._check_schema(call, new)
            if admit:
                self.admission.mutate(resource, "UPDATE", new, old, call.user)
            # After defaulting: a write the webhook turns back into the stored spec changes nothing.
            if resource.has_generation and objects.spec_changed(old, new):
                metadata["generation"] = int(old["metadata"].get("generation", 0)) + 1
            if admit:
                self._validate(call, "UPDATE", new, old)
        if not managed:
            fieldmanager.record_update(old, new, call.manager, resource.api_version, stamp, call.subresource)
        if fieldmanager.strip_times(new) == fieldmanager.strip_times(old):
            return old
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            if not call.dry_run:
                self.store.commit([Change("DELETED", resource.key, new, old)])
            return new
        if call.dry_run:
            return new
        self.store.commit([Change("MODIFIED", resource.key, new, old)])
        return new

    # -- delete -----------------------------------------------------------------------------

    def delete(self, call: Call, options: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        old = self.get(call)
        planned = deletion.plan(call.resource, old, options, self.now())
        if planned.change and not call.dry_run:
            self.store.commit([Change(planned.change, call.resource.key, planned.obj, old)])
        return planned.code, planned.body

    # -- writes the cluster's own controllers make -----------------------------------------

    def system_write(
        self,
        resource: ResourceDef,
        new: dict[str, Any],
        old: dict[str, Any] | None,
        manager: str,
        subresource: str = "",
    ) -> dict[str, Any]:
        """A controller's create or update: the same pipeline without admission webhooks."""
        metadata = new.setdefault("metadata", {})
        call = Call(
            resource, metadata.get("namespace", "") if resource.namespaced else "", metadata.get("name", ""),
            subresource=subresource, manager=manager,
        )
        if old is None:
            return self.create(call, new, admit=False)
        return self._update(call, old, new, admit=False)

    def system_delete(self, resource: ResourceDef, obj: dict[str, Any]) -> None:
        if obj["metadata"].get("finalizers"):
            new = copy.deepcopy(obj)
            new["metadata"].setdefault("deletionTimestamp", self.now())
            new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            if new != obj:
                self.store.commit([Change("MODIFIED", resource.key, new, obj)])
            return
        self.store.commit([Change("DELETED", resource.key, copy.deepcopy(obj), obj)])

    # -- helpers ----------------------------------------------------------------------------

    def _check_namespace_open(self, call: Call) -> None:
        namespace = self.store.get(NAMESPACE.key, "", call.namespace)
        if namespace is None:
            raise errors.not_found("namespaces", "", call.namespace)
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            raise errors.forbidden(
                call.resource.plural, call.resource.group, "",
                f"unable to create new content in namespace {call.namespace} because it is being terminated",
                [{"reason": "NamespaceTerminating", "message": f"namespace {call.namespace} is being terminated",
                  "field": "metadata.namespace"}],
            )

    def _check_schema(self, call: Call, obj: dict[str, Any]) -> None:
        call.warnings.extend(self.schema.check(call.resource, obj, call.field_validation))

    def _validate(self, call: Call, operation: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """The kind's storage checks of the user's rights, the apiserver's own validation, then the validating
        webhooks."""
        for guard in self.guards:
            guard.check(call.resource, call.user_info, call.namespace, obj, old)
        objects.validate_metadata(call.resource, obj, operation == "CREATE")
        builtins.validate(call.resource, obj, old)
        call.warnings.extend(self.admission.validate(call.resource, operation, obj, old, call.user))


CLUSTER_IP = "clusterIP"


def _cluster_ips(service: dict[str, Any]) -> list[str]:
    spec = service.get("spec")
    if not isinstance(spec, dict):
        return []
    listed = spec.get("clusterIPs")
    ips = [spec.get("clusterIP"), *(listed if isinstance(listed, list) else [])]
    return [ip for ip in ips if isinstance(ip, str) and ip not in ("", "None")]


class _TakenIPs:
    """The ClusterIPs live Services hold, as the store's index has them: nothing decoded, and a deleted Service's
    address (however it was deleted: by a client, the garbage collector, its namespace going) is free again at once."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, str) and bool(self.store.indexes.lookup(CORE_SERVICE.key, CLUSTER_IP, ip))
