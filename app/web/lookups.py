"""The reads pages need, gathered concurrently, with short-lived caches for what rarely changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.cluster import resources as r
from app.cluster.client import Cluster
from app.cluster.errors import ClusterError, Forbidden, NotFound, Unreachable
from app.knative import gateway as gw
from app.knative.limits import Amounts, counts_compute, limit_range_warnings, queue_proxy_amounts, quota_warnings
from app.knative.models import (
    LABEL_SERVICE,
    RevisionView,
    ServiceView,
    Template,
    newest_first,
    revision_from,
    service_from,
)
from app.settings import Settings

T = TypeVar("T")
CACHE_SECONDS = 10.0
CACHE_ENTRIES = 1000
LIST_CHUNK = 500  # Services per request when a whole list is read (to filter or sort it)


@dataclass
class _Cached:
    value: Any
    expires: float


@dataclass
class Lookups:
    """Reads against one cluster as one identity. Gateway and namespace answers are cached for a few seconds: the
    namespaces per identity (what each may list differs), the gateway for all (it is read with the console's own
    credentials: it is the console's configuration, not a user's data)."""

    cluster: Cluster
    settings: Settings
    _cache: dict[str, _Cached] = field(default_factory=dict)
    own: Cluster | None = None  # the console's own client, for the gateway; None: `cluster` is the console's own
    who: str = ""  # the identity the cache keeps this one's answers under

    def acting_as(self, cluster: Cluster, who: str) -> Lookups:
        """The same lookups and caches, reading as another identity with its own client."""
        return Lookups(cluster, self.settings, self._cache, self.own or self.cluster, who)

    async def _cached(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit.expires > now:
            return hit.value  # type: ignore[no-any-return]
        value = await load()
        if len(self._cache) > CACHE_ENTRIES:  # one entry per identity: forget the expired ones
            for stale in [k for k, v in self._cache.items() if v.expires <= now]:
                del self._cache[stale]
        self._cache[key] = _Cached(value, now + CACHE_SECONDS)
        return value

    async def namespaces(self) -> list[str] | None:
        """Namespace names, or None when this user may not list them (the page then offers a text field)."""

        async def load() -> list[str] | None:
            try:
                listed = await self.cluster.list(r.NAMESPACE)
            except Forbidden:
                return None
            return sorted(n["metadata"]["name"] for n in listed.get("items") or [])

        return await self._cached(f"namespaces:{self.who}", load)

    async def require_namespace(self, namespace: str) -> None:
        """Raise NotFound when the namespace does not exist (an empty list would look like a namespace with
        no Services yet). Credentials that may not read namespaces get the benefit of the doubt."""
        listed = await self.namespaces()
        if listed is not None and namespace in listed:
            return
        try:
            await self.cluster.get(r.NAMESPACE, namespace)
        except Forbidden:
            return

    async def gateway(self) -> gw.Gateway:
        if self.settings.gateway:
            return gw.from_override(self.settings.gateway)

        async def load() -> gw.Gateway:
            own = self.own or self.cluster
            try:
                network = await own.get(r.CONFIGMAP, "config-network", "knative-serving")
            except NotFound:
                network = None
            except Forbidden:
                return gw.unknown("The console may not read knative-serving/config-network; set the gateway "
                                  "address with --gateway or KNATIVE_CONSOLE_GATEWAY.")
            ingress = gw.ingress_class(network)
            where = gw.gateway_service(ingress)
            if where is None:
                return gw.unknown(f"No known gateway for the ingress class {ingress}; set the gateway address "
                                  "with --gateway or KNATIVE_CONSOLE_GATEWAY.")
            try:
                service = await own.get(r.CORE_SERVICE, where[1], where[0])
            except (NotFound, Forbidden) as error:
                return gw.unknown(f"{where[0]}/{where[1]} could not be read ({error.reason}); set the gateway "
                                  "address with --gateway or KNATIVE_CONSOLE_GATEWAY.")
            return gw.from_service(service)

        try:
            return await self._cached("gateway", load)
        except Unreachable:
            raise
        except ClusterError as error:
            return gw.unknown(f"The gateway could not be found: {error.message}")

    async def queue_proxy(self) -> Amounts | None:
        """queue-proxy's requests and limits, from knative-serving/config-deployment read with the console's own
        credentials (Knative's configuration, not a user's data), cached as the gateway is; None when it cannot be
        read (not granted by deploy/'s roles: the quota warnings then count only the revision's own container)."""

        async def load() -> Amounts | None:
            try:
                configmap = await (self.own or self.cluster).get(r.CONFIGMAP, "config-deployment", "knative-serving")
            except NotFound:
                return queue_proxy_amounts({})  # Knative's defaults
            except ClusterError:
                return None
            return queue_proxy_amounts(configmap.get("data") or {})

        return await self._cached("queue-proxy", load)

    async def services(self, namespace: str, continue_token: str = "") -> dict[str, Any]:
        """One page of the namespace's Services, as the API lists them (by name)."""
        return await self.cluster.list(r.SERVICE, namespace, limit=self.settings.page_size,
                                       continue_token=continue_token)

    async def first_services(self, namespace: str, count: int) -> tuple[list[dict[str, Any]], int]:
        """The namespace's first `count` Services as the API lists them (by name; all of them when there are fewer),
        read up to LIST_CHUNK at a time, and how many the namespace has (one more than read when the API does not
        say)."""
        items: list[dict[str, Any]] = []
        async for page in self.cluster.pages(r.SERVICE, namespace, limit=min(LIST_CHUNK, count)):
            items += _items(page)
            metadata = page.get("metadata") or {}
            if len(items) >= count and metadata.get("continue"):
                remaining = metadata.get("remainingItemCount")
                return items[:count], len(items) + (remaining if isinstance(remaining, int) and remaining > 0 else 1)
        return items[:count], len(items)

    async def all_services(self, namespace: str, label_selector: str = "") -> list[dict[str, Any]]:
        """Every Service of the namespace ("" for all namespaces), in pages of a few hundred."""
        return [item async for page in self.cluster.pages(r.SERVICE, namespace, label_selector, limit=LIST_CHUNK)
                for item in _items(page)]

    async def service_objects(self, namespace: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The Service and its revisions, as the API gives them."""
        obj, revisions = await asyncio.gather(
            self.cluster.get(r.SERVICE, name, namespace),
            self.cluster.list(r.REVISION, namespace, f"{LABEL_SERVICE}={name}"),
        )
        return obj, revisions.get("items") or []

    async def service(self, namespace: str, name: str) -> tuple[dict[str, Any], ServiceView, list[RevisionView]]:
        """The raw Service, its view, and its revisions newest first."""
        obj, revisions = await self.service_objects(namespace, name)
        return obj, service_from(obj), newest_first([revision_from(i) for i in revisions])


def _items(listed: dict[str, Any]) -> list[dict[str, Any]]:
    """A list's items that are objects."""
    return [item for item in listed.get("items") or [] if isinstance(item, dict)]


async def _items_or_none(client: Cluster, resource: r.Resource, namespace: str) -> list[Any] | None:
    """A namespace's objects of `resource`, read with `client`'s rights; None when they cannot be (refused, or the
    cluster did not answer: a form is not held up for a warning)."""
    try:
        return (await client.list(resource, namespace)).get("items") or []
    except ClusterError:  # Forbidden, Unreachable and the rest
        return None


@dataclass(frozen=True)
class ResourceWarnings:
    """What the namespace would refuse of a new revision's instances, before it is sent."""

    limit_ranges: list[str] = field(default_factory=list)  # a request or limit outside a LimitRange's min or max
    quotas: list[str] = field(default_factory=list)  # a ResourceQuota's counted resource unstated, or no room left


async def resource_problems(lookups: Lookups, namespace: str, template: Template) -> ResourceWarnings:
    """The namespace's LimitRanges and ResourceQuotas read with the user's rights (`lookups`' client), queue-proxy's
    amounts with the console's own (knative-serving/config-deployment), against the template as typed. A read that
    is refused or fails leaves its part out: LimitRanges are read when resources are typed or a quota counts CPU or
    memory, config-deployment only then too."""
    client = lookups.cluster
    typed = any((template.cpu_request, template.cpu_limit, template.memory_request, template.memory_limit))
    quotas = await _items_or_none(client, r.RESOURCE_QUOTA, namespace) or []
    counts = counts_compute(quotas)
    if not (typed or counts):
        return ResourceWarnings([], quota_warnings(template, quotas, [], None))
    limit_ranges, queue = await asyncio.gather(_items_or_none(client, r.LIMIT_RANGE, namespace),
                                               lookups.queue_proxy() if counts else _nothing())
    return ResourceWarnings(limit_range_warnings(template, limit_ranges or []) if typed else [],
                            quota_warnings(template, quotas, limit_ranges or [], queue))


async def _nothing() -> None:
    return None
