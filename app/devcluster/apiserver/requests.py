"""Reading requests: bodies within the size limit, JSON or YAML or protobuf, and Go-style query values."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import yaml
from aiohttp import web

from app.devcluster.apiserver import errors
from app.devcluster.apiserver.decode import MAX_DEPTH, deeper_than, too_deep
from app.devcluster.apiserver.protobuf import MESSAGES, ProtobufError, decode_object
from app.devcluster.apiserver.resources import ResourceDef

BODY_LIMIT = 3 * 1024 * 1024
REQUEST_TIMEOUT = 60.0  # kube-apiserver's --request-timeout
BODY_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


async def read_body(request: web.Request) -> bytes:
    """The body, refused past BODY_LIMIT bytes or when it has not all arrived within REQUEST_TIMEOUT seconds."""
    length = request.content_length
    if length is not None and length > BODY_LIMIT:
        raise errors.too_large(BODY_LIMIT)
    data = bytearray()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            async for chunk in request.content.iter_chunked(65536):
                data += chunk
                if len(data) > BODY_LIMIT:
                    raise errors.too_large(BODY_LIMIT)
    except TimeoutError:
        raise errors.timeout("request did not complete within requested timeout - context deadline exceeded") from None
    return bytes(data)


async def read_object(request: web.Request, resource: ResourceDef) -> Any:
    media = media_type(request.headers.get("Content-Type", ""))
    raw = await read_body(request)
    if media == "application/vnd.kubernetes.protobuf":
        if resource.kind not in MESSAGES or resource.custom or request.method != "POST":
            raise errors.unsupported_media_type(media, "application/json, application/yaml")
        try:
            return decode_object(raw, resource.kind)
        except (ProtobufError, UnicodeDecodeError) as exc:
            raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
    if media not in ("", "application/json", "application/yaml", "*/*"):
        raise errors.unsupported_media_type(media, BODY_TYPES)
    return parse_body(raw, yaml_ok=media == "application/yaml")


def parse_body(raw: bytes, yaml_ok: bool) -> Any:
    """The body as JSON, or as YAML where allowed; refused when empty, not UTF-8, malformed or nested too deep."""
    if not raw.strip():
        raise errors.bad_request("the body of the request is empty: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.bad_request("the body of the request is not valid UTF-8") from None
    try:
        body = json.loads(text)
    except RecursionError:
        raise too_deep() from None
    except ValueError as exc:
        if not yaml_ok:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
        body = _yaml(text)
    if deeper_than(body, MAX_DEPTH):
        raise too_deep()
    return body


def _yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_KubernetesYaml)  # noqa: S506 - a SafeLoader
    except RecursionError:
        raise too_deep() from None
    except (yaml.YAMLError, ValueError) as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


class _KubernetesYaml(yaml.SafeLoader):
    """YAML read as Kubernetes reads it (go-yaml v2): an integer too large for any number type stays a string."""


def _int_or_string(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        return loader.construct_scalar(node)


_KubernetesYaml.add_constructor("tag:yaml.org,2002:int", _int_or_string)


async def delete_options(request: web.Request) -> dict[str, Any]:
    options: dict[str, Any] = {}
    raw = await read_body(request)
    if raw.strip():
        body = parse_body(raw, yaml_ok=False)
        if not isinstance(body, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        options.update(body)
    query = request.query
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = go_bool(query["orphanDependents"])
    if "gracePeriodSeconds" in query:
        options["gracePeriodSeconds"] = go_int(query["gracePeriodSeconds"], "gracePeriodSeconds")
    return options


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def table_request(request: web.Request) -> tuple[bool, str]:
    accept = request.headers.get("Accept", "")
    for media in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in media.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            include = request.query.get("includeObject", "Metadata")
            if include not in ("None", "Metadata", "Object"):
                raise errors.bad_request(f'invalid includeObject "{include}"')
            return True, include
        if media.split(";")[0].strip() in ("application/json", "*/*") and "as=" not in media:
            return False, "Metadata"
    return False, "Metadata"


_DECIMAL = re.compile(r"[+-]?[0-9]+")
_INT64_OVERFLOW = 2**64
TRUE_VALUES = {"1", "t", "T", "TRUE", "true", "True"}
FALSE_VALUES = {"0", "f", "F", "FALSE", "false", "False"}


def go_bool(value: str | None) -> bool:
    """Go's strconv.ParseBool: kubernetes_asyncio sends `True`, kubectl `true`."""
    if value is None or value == "":
        return False
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def go_int(value: str | None, name: str, *, signed: bool = False) -> int | None:
    """Go's strconv.ParseInt(value, 10, 64), as the apiserver reads integer query parameters (refusing a negative
    one unless `signed`: the options' own validation then says what is wrong with it)."""
    if value is None or value == "":
        return None
    if not _DECIMAL.fullmatch(value):
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value) if len(value) <= 20 else _INT64_OVERFLOW
    if not -(2**63) <= number < 2**63:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": value out of range')
    if number < 0 and not signed:
        raise errors.bad_request(f"{name} must not be negative")
    return number


def quote_warning(text: str) -> str:
    """A warning's text as a quoted-string of a header: control characters (a field a client named
    `a\r\nb`, say) become spaces, since no header may carry them."""
    printable = "".join(c if c.isprintable() else " " for c in text)
    return printable.replace("\\", "\\\\").replace('"', '\\"')
