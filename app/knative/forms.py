"""The Create Service and Create Revision forms: what was typed, checked the way Knative checks it.

Each message is written once, here, beside its rule, and says what to do. Field keys match the
form's input names so that the page can show each message under its field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.knative.models import EnvVar, Scaling, Template
from app.knative.naming import dns1035_problem
from app.knative.numbers import whole
from app.knative.quantity import is_quantity, parse_quantity

RESERVED_ENV = ("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION")
RESERVED_PORTS = (8012, 8013, 8022, 9090, 9091, 8008)
PROTOCOLS = {"http": "HTTP", "grpc": "gRPC"}
VISIBILITIES = {
    "public": "Public (reachable through the gateway)",
    "cluster-local": "Cluster-local (inside the cluster only)",
}

_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"^(?:(?P<domain>(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::\d+)?)/)?"
    rf"(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$",
    re.ASCII,
)


class FormErrors(Exception):
    """Field key → message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class EnvInput:
    name: str = ""
    value: str = ""


@dataclass(frozen=True)
class TemplateInput:
    """A revision template as typed: every value a string, exactly as the form sent it."""

    image: str = ""
    protocol: str = "http"
    port: str = "8080"
    env: tuple[EnvInput, ...] = ()
    cpu_request: str = ""
    cpu_limit: str = ""
    memory_request: str = ""
    memory_limit: str = ""
    min_scale: str = ""
    max_scale: str = ""
    target: str = ""


@dataclass(frozen=True)
class ServiceInput:
    name: str = ""
    visibility: str = "public"
    template: TemplateInput = field(default_factory=TemplateInput)


@dataclass(frozen=True)
class ServiceDraft:
    name: str
    namespace: str
    template: Template
    cluster_local: bool = False


def template_input(template: Template) -> TemplateInput:
    """Prefill a form from an existing template (the latest revision's, in the wizard)."""
    return TemplateInput(
        image=template.image,
        protocol=template.protocol,
        port=str(template.port or 8080),
        env=tuple(EnvInput(e.name, e.value) for e in template.env if not e.from_secret_or_config),
        cpu_request=template.cpu_request,
        cpu_limit=template.cpu_limit,
        memory_request=template.memory_request,
        memory_limit=template.memory_limit,
        min_scale=template.scaling.min_scale,
        max_scale=template.scaling.max_scale,
        target=template.scaling.target,
    )


def parse_service(form: ServiceInput, namespace: str) -> ServiceDraft:
    problems: dict[str, str] = {}
    name = form.name.strip()
    problem = dns1035_problem(name, "Service name")
    if problem:
        problems["name"] = problem
    if form.visibility not in VISIBILITIES:
        problems["visibility"] = "Choose Public or Cluster-local."
    try:
        template = parse_template(form.template)
    except FormErrors as errors:
        problems.update(errors.fields)
        template = Template()
    if problems:
        raise FormErrors(problems)
    return ServiceDraft(name, namespace, template, form.visibility == "cluster-local")


def parse_template(form: TemplateInput) -> Template:
    problems: dict[str, str] = {}
    image = form.image.strip()
    if not image:
        problems["image"] = "Enter the container image, for example ghcr.io/knative/helloworld-go:latest."
    elif len(image) > 4096 or not _IMAGE.fullmatch(image):
        problems["image"] = ("This is not a valid image reference. Use a form such as "
                             "ghcr.io/knative/helloworld-go:latest: a lowercase repository, then an optional "
                             ":tag or @sha256:digest.")
    if form.protocol not in PROTOCOLS:
        problems["protocol"] = "Choose HTTP or gRPC."
    port = _port(form.port, problems)
    env = _env(form.env, problems)
    cpu_request = _quantity(form.cpu_request, "cpu_request", "CPU", "100m or 0.5", problems)
    cpu_limit = _quantity(form.cpu_limit, "cpu_limit", "CPU", "100m or 0.5", problems)
    memory_request = _quantity(form.memory_request, "memory_request", "memory", "128Mi or 1Gi", problems)
    memory_limit = _quantity(form.memory_limit, "memory_limit", "memory", "128Mi or 1Gi", problems)
    for resource, request, limit in (("cpu", cpu_request, cpu_limit), ("memory", memory_request, memory_limit)):
        if request and limit and f"{resource}_request" not in problems and f"{resource}_limit" not in problems:
            if parse_quantity(request) > parse_quantity(limit):
                problems[f"{resource}_request"] = (f"The {resource.upper() if resource == 'cpu' else resource} request "
                                                   f"({request}) must not exceed the limit ({limit}).")
    scaling = _scaling(form, problems)
    if problems:
        raise FormErrors(problems)
    return Template(
        image=image, port=port, protocol=form.protocol, env=env, cpu_request=cpu_request, cpu_limit=cpu_limit,
        memory_request=memory_request, memory_limit=memory_limit, scaling=scaling,
    )


def _port(text: str, problems: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    port = whole(text, 65535)
    if not port:
        problems["port"] = "Enter a port number from 1 to 65535."
        return None
    if port in RESERVED_PORTS:
        problems["port"] = f"Port {port} is reserved by Knative's queue-proxy; choose another port."
        return None
    return port


def _env(rows: tuple[EnvInput, ...], problems: dict[str, str]) -> tuple[EnvVar, ...]:
    env: list[EnvVar] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        name = row.name.strip()
        if not name and not row.value:
            continue  # an empty row the user added and did not fill
        key = f"env-{index}-name"
        if not name:
            problems[key] = "Enter a name for this variable, or remove the row."
        elif not _ENV_NAME.fullmatch(name):
            problems[key] = "Use letters, digits, '_', '-' or '.' in a variable name, and do not start with a digit."
        elif name in RESERVED_ENV:
            problems[key] = f"{name} is set by Knative itself; use another name."
        elif name in seen:
            problems[key] = f"{name} is already defined above; keep one of the two rows."
        seen.add(name)
        env.append(EnvVar(name, row.value))
    return tuple(env)


def _quantity(text: str, key: str, what: str, example: str, problems: dict[str, str]) -> str:
    text = text.strip()
    if text and not is_quantity(text):
        problems[key] = f"Use a Kubernetes quantity for {what}, such as {example}."
    elif text.startswith("-"):
        problems[key] = f"Use a quantity of 0 or more for {what}, such as {example}."
    return text


def _whole(text: str, key: str, label: str, problems: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    value = whole(text, 2147483647)
    if value is None:
        problems[key] = f"Enter {label} as a whole number of instances, 0 or more."
    return value


def _scaling(form: TemplateInput, problems: dict[str, str]) -> Scaling:
    low = _whole(form.min_scale, "min_scale", "the min scale", problems)
    high = _whole(form.max_scale, "max_scale", "the max scale", problems)
    if low is not None and high and high < low:
        problems["max_scale"] = f"Max scale must be at least the min scale ({low}), or 0 for no limit."
    target = form.target.strip()
    if target:
        value = float(target) if _DECIMAL.fullmatch(target) and len(target) <= 40 else -1.0
        if not value >= 0.01:
            problems["target"] = "Enter a concurrency target of at least 0.01 requests per instance, for example 100."
    return Scaling(form.min_scale.strip(), form.max_scale.strip(), target)
