"""Where a cluster's Knative ingress gateway listens: config-network's ingress class → the gateway Service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Knative's default when config-network names no class (net-istio).
DEFAULT_INGRESS_CLASS = "istio.ingress.networking.knative.dev"
GATEWAY_SERVICES = {
    "kourier.ingress.networking.knative.dev": ("kourier-system", "kourier"),
    "istio.ingress.networking.knative.dev": ("istio-system", "istio-ingressgateway"),
    "contour.ingress.networking.knative.dev": ("contour-external", "envoy"),
}
_HTTP_PORT_NAMES = ("http2", "http", "http1", "http-80")


@dataclass(frozen=True)
class Gateway:
    """An address such as `127.0.0.1:8080`, where it came from, or why it is unknown."""

    address: str = ""
    source: str = ""
    hint: str = ""

    @property
    def known(self) -> bool:
        return bool(self.address)

    def curl(self, host: str) -> str:
        return f'curl -H "Host: {host}" http://{self.address}' if self.address and host else ""


def ingress_class(config_network: dict[str, Any] | None) -> str:
    data = (config_network or {}).get("data") or {}
    return str(data.get("ingress-class") or data.get("ingress.class") or DEFAULT_INGRESS_CLASS)


def gateway_service(ingress: str) -> tuple[str, str] | None:
    return GATEWAY_SERVICES.get(ingress)


def from_override(address: str) -> Gateway:
    return Gateway(address.removeprefix("http://").rstrip("/"), "setting")


def from_service(service: dict[str, Any]) -> Gateway:
    """The load-balancer address and HTTP port of a gateway Service."""
    meta = service.get("metadata") or {}
    source = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    host = next((str(i.get("ip") or i.get("hostname")) for i in ingress if isinstance(i, dict)
                 and (i.get("ip") or i.get("hostname"))), "")
    if not host:
        return Gateway(source=source, hint=f"{source} has no load-balancer address yet; set the gateway address "
                                           "with --gateway or KNATIVE_CONSOLE_GATEWAY.")
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    port = next((p for p in ports if p.get("name") in _HTTP_PORT_NAMES), None) or next(
        (p for p in ports if p.get("port") == 80), ports[0] if ports else {"port": 80})
    number = port.get("port", 80)
    address = host if number == 80 else f"{host}:{number}"
    if ":" in host and number != 80:
        address = f"[{host}]:{number}"
    return Gateway(address, source)


def unknown(hint: str) -> Gateway:
    return Gateway(hint=hint)
