"""Assembles the dev cluster: store, API server, admission, controllers and gateway, started and stopped together."""

from __future__ import annotations

import asyncio
import copy
import gc as python_gc
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from app.devcluster.admission.webhooks import KnativeWebhooks
from app.devcluster.apiserver import seed
from app.devcluster.apiserver.expiry import Expiry
from app.devcluster.apiserver.gc import GarbageCollector
from app.devcluster.apiserver.hosts import own_names
from app.devcluster.apiserver.http import HEADER_TIMEOUT, ApiServer
from app.devcluster.apiserver.openapi import OpenApi
from app.devcluster.apiserver.podlogs import ContainerLogs
from app.devcluster.apiserver.resources import (
    CORE_RESOURCES,
    CORE_SERVICE,
    DEPLOYMENT,
    EVENT,
    POD,
    REPLICASET,
    Registry,
)
from app.devcluster.apiserver.rest import Admission, Rest, Schema
from app.devcluster.apiserver.schema import Schemas
from app.devcluster.apiserver.schema_check import SchemaCheck
from app.devcluster.apiserver.schema_core import CORE_KINDS
from app.devcluster.apiserver.store import Store
from app.devcluster.apiserver.watch import BUFFER, Watches
from app.devcluster.controllers import install
from app.devcluster.controllers.loop import KnativeController
from app.devcluster.crds.resources import INGRESS, KNATIVE_RESOURCES
from app.devcluster.crds.schemas import KNATIVE_KINDS
from app.devcluster.gateway.gateway import KEEP_ALIVE_TIMEOUT, Gateway

log = logging.getLogger("devcluster")
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i"'
# Held compressed in memory: several of each per revision, alike, and seldom listed whole (see store.py).
PACKED = tuple(r.key for r in (EVENT, POD, REPLICASET, DEPLOYMENT, CORE_SERVICE, INGRESS))


@dataclass
class Config:
    host: str = "127.0.0.1"
    api_port: int = 8001
    gateway_port: int = 8080
    internal_gateway_port: int = 8081
    data: Path = Path(".devcluster")
    domain: str = "example.com"
    revision_start_delay: float = 1.0
    cold_start_delay: float = 1.0  # a revision that had been Ready starts an instance in this long (from zero too)
    restart_backoff: float = 10.0  # the kubelet's first back-off before restarting a container that exited
    bookmark_interval: float = 30.0
    watch_history: int = 20000
    watch_buffer: int = BUFFER  # events a watcher may fall behind before it is cut off
    event_ttl: float = 3600.0  # seconds an Event lives after its last write, as kube-apiserver's --event-ttl
    header_timeout: float = HEADER_TIMEOUT  # seconds a client gets to send a request's headers
    knative: bool = True  # serve serving.knative.dev; off to stand in for a cluster without Knative
    advertise_host: str = ""  # the host clients reach this server by (kubeconfig, gateway address); default: host
    insecure_allow_remote: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


@dataclass
class DevCluster:
    config: Config
    admission: Admission | None = None
    schemas: Schemas = field(default_factory=Schemas)
    registry: Registry = field(default_factory=Registry)
    controllers: list[Any] = field(default_factory=list)
    gateway: Any = None  # an object with `async start(socket)` and `async stop()`

    def __post_init__(self) -> None:
        self.store = Store(
            self.config.data / "store.sqlite3", self.config.watch_history, ttls={EVENT.key: self.config.event_ttl},
            packed=PACKED,
        )
        schema: Schema = SchemaCheck(self.schemas)
        self.rest = Rest(self.store, self.admission, schema)
        self.watches = Watches(self.store, self.config.bookmark_interval, self.config.watch_buffer)
        self.gc = GarbageCollector(self.rest, self.registry)
        self.expiry = Expiry(self.store)
        self.logs = ContainerLogs()
        self._runners: list[web.AppRunner] = []
        self.api_port = self.config.api_port
        self.gateway_port = self.config.gateway_port
        self.internal_gateway_port = self.config.internal_gateway_port

    @property
    def advertised_host(self) -> str:
        return self.config.advertise_host or self.config.host

    @property
    def own_names(self) -> frozenset[str]:
        """The Host names the API and the gateway answer to: their bound address, loopback, the advertised host."""
        return own_names(self.config.host, self.config.advertise_host)

    @property
    def server_url(self) -> str:
        host = self.advertised_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.api_port}"

    async def start(self) -> None:
        if not is_loopback(self.config.host) and not self.config.insecure_allow_remote:
            raise SystemExit(
                f"refusing to serve on {self.config.host}: the dev cluster has no authentication. "
                "Bind a loopback address, or pass --insecure-allow-remote."
            )
        api_socket = bind(self.config.host, self.config.api_port)
        gateway_socket = bind(self.config.host, self.config.gateway_port)
        internal_socket = bind(self.config.host, self.config.internal_gateway_port)
        self.api_port = api_socket.getsockname()[1]
        self.gateway_port = gateway_socket.getsockname()[1]
        self.internal_gateway_port = internal_socket.getsockname()[1]
        self.store.open()
        seed.seed(self.rest)
        if self.config.knative:
            install.install(self.rest, self.config.domain, self.advertised_host, self.gateway_port,
                            self.internal_gateway_port)
        self.gc.start()
        self.expiry.start()
        for controller in self.controllers:
            controller.start()
        api = ApiServer(
            self.registry, self.rest, self.watches, OpenApi(self.schemas.kinds), f"{self.config.host}:{self.api_port}",
            allowed_hosts=self.own_names, header_timeout=self.config.header_timeout, logs=self.logs,
        )
        await self._serve(api.application(), api_socket)
        if self.gateway is not None:
            await self.gateway.start(gateway_socket, internal_socket)
        else:
            gateway_socket.close()
            internal_socket.close()
        self.write_kubeconfig()
        # What start-up built (the store's indexes, schemas, modules) lives as long as the process: keep the
        # collector from walking it again and again, as every full collection would.
        python_gc.freeze()
        log.info("API server on %s, gateway on http://%s:%d (internal: %d), data in %s", self.server_url,
                 self.config.host, self.gateway_port, self.internal_gateway_port, self.config.data)

    async def _serve(self, app: web.Application, sock: socket.socket) -> None:
        runner = web.AppRunner(app, access_log_format=ACCESS_LOG_FORMAT, handle_signals=False, shutdown_timeout=2)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runners.append(runner)

    async def stop(self) -> None:
        self.watches.stop()
        self.logs.close()  # `kubectl logs -f` streams end, as they do when a node goes away
        for _ in range(50):
            if not self.watches.open:
                break
            await asyncio.sleep(0.02)
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.gateway is not None:
            await self.gateway.stop()
        for controller in reversed(self.controllers):
            await controller.stop()
        await self.expiry.stop()
        await self.gc.stop()
        self.store.close()

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "devcluster", "cluster": {"server": self.server_url}}],
            "contexts": [
                {
                    "name": "devcluster",
                    "context": {"cluster": "devcluster", "namespace": "default", "user": "devcluster"},
                }
            ],
            "current-context": "devcluster",
            "users": [{"name": "devcluster", "user": {}}],
            "preferences": {},
        }

    def write_kubeconfig(self) -> Path:
        path = self.config.data / "kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(copy.deepcopy(self.kubeconfig()), sort_keys=False))
        tmp.replace(path)
        return path


def build(config: Config) -> DevCluster:
    """The dev cluster as `python -m app.devcluster` runs it: the API server plus Knative Serving."""
    if not config.knative:
        # A plain Kubernetes API: what a cluster without Knative Serving looks like to a client.
        return DevCluster(config)
    cluster = DevCluster(
        config, admission=KnativeWebhooks(), schemas=Schemas(KNATIVE_KINDS + CORE_KINDS),
        registry=Registry(CORE_RESOURCES + KNATIVE_RESOURCES),
    )
    controller = KnativeController(cluster.rest, config.revision_start_delay, config.cold_start_delay, cluster.logs,
                                   config.restart_backoff)
    cluster.controllers.append(controller)
    # The gateway only reads; what a request does to the cluster goes through the autoscaler (the activator's part).
    cluster.gateway = Gateway(cluster.store, cluster.own_names, min(config.header_timeout, KEEP_ALIVE_TIMEOUT),
                              backends=controller.autoscaler)
    return cluster
