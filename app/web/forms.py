"""Posted forms → the typed inputs of app.knative.forms and app.knative.traffic (strings, as typed)."""

from __future__ import annotations

from starlette.datastructures import FormData

from app.knative.basis import Basis
from app.knative.forms import EnvInput, ServiceInput, TemplateInput
from app.knative.traffic import RowInput

TEMPLATE_FIELDS = ("image", "protocol", "port", "cpu_request", "cpu_limit", "memory_request", "memory_limit",
                   "min_scale", "max_scale", "target")


def text(form: FormData, key: str, default: str = "") -> str:
    value = form.get(key, default)
    return value if isinstance(value, str) else default


def texts(form: FormData, key: str) -> list[str]:
    return [v for v in form.getlist(key) if isinstance(v, str)]


def env_rows(form: FormData) -> tuple[EnvInput, ...]:
    names, values = texts(form, "env_name"), texts(form, "env_value")
    values += [""] * (len(names) - len(values))
    return tuple(EnvInput(n, v) for n, v in zip(names, values, strict=False))


def template_input(form: FormData) -> TemplateInput:
    values = {key: text(form, key) for key in TEMPLATE_FIELDS}
    values["protocol"] = values["protocol"] or "http"
    return TemplateInput(env=env_rows(form), **values)


def service_input(form: FormData) -> ServiceInput:
    return ServiceInput(text(form, "name"), text(form, "visibility", "public"), template_input(form))


def row_inputs(form: FormData) -> list[RowInput]:
    kinds, revisions = texts(form, "row_kind"), texts(form, "row_revision")
    percents, tags = texts(form, "row_percent"), texts(form, "row_tag")
    count = len(kinds)
    revisions += [""] * (count - len(revisions))
    percents += [""] * (count - len(percents))
    tags += [""] * (count - len(tags))
    return [RowInput(kinds[i], revisions[i], percents[i], tags[i]) for i in range(count)]


def basis(form: FormData) -> Basis:
    """What the posted form was built from (its hidden fields)."""
    return Basis(text(form, "resource_version"), text(form, "basis_uid"), text(form, "basis_generation"),
                 text(form, "basis_traffic"), text(form, "basis_template"), text(form, "basis_history"))
