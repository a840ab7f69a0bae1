"""The Create Service and Create Revision form rules (app.knative.forms): every message, and what a valid
form becomes; plus names (app.knative.naming)."""

from __future__ import annotations

import pytest

from app.knative import forms, naming
from app.knative.forms import EnvInput, ServiceInput, TemplateInput
from app.knative.models import EnvVar, Scaling, Template

OK = TemplateInput(image="ghcr.io/knative/helloworld-go:latest")


@pytest.mark.parametrize(("name", "message"), [
    ("", "Enter a Service name."),
    ("Hello", "Use lowercase letters, digits and '-' in a Service name; start with a letter and end with a letter "
              "or digit (for example helloworld-go)."),
    ("1hello", "Use lowercase letters, digits and '-' in a Service name; start with a letter and end with a letter "
               "or digit (for example helloworld-go)."),
    ("hello.world", "Use lowercase letters, digits and '-' in a Service name; start with a letter and end with a "
                    "letter or digit (for example helloworld-go)."),
    ("hello-", "Use lowercase letters, digits and '-' in a Service name; start with a letter and end with a letter "
               "or digit (for example helloworld-go)."),
    ("a" * 64, "Use at most 63 characters; this Service name has 64."),
])
def test_service_name(name: str, message: str) -> None:
    with pytest.raises(forms.FormErrors) as raised:
        forms.parse_service(ServiceInput(name, template=OK), "default")
    assert raised.value.fields == {"name": message}


@pytest.mark.parametrize(("template", "errors"), [
    (TemplateInput(), {"image": "Enter the container image, for example ghcr.io/knative/helloworld-go:latest."}),
    (TemplateInput(image="Not An Image"),
     {"image": "This is not a valid image reference. Use a form such as ghcr.io/knative/helloworld-go:latest: a "
               "lowercase repository, then an optional :tag or @sha256:digest."}),
    (TemplateInput(image="ghcr.io/Knative/x"),
     {"image": "This is not a valid image reference. Use a form such as ghcr.io/knative/helloworld-go:latest: a "
               "lowercase repository, then an optional :tag or @sha256:digest."}),
    (TemplateInput(image=OK.image, protocol="ftp"), {"protocol": "Choose HTTP or gRPC."}),
    (TemplateInput(image=OK.image, port="0"), {"port": "Enter a port number from 1 to 65535."}),
    (TemplateInput(image=OK.image, port="65536"), {"port": "Enter a port number from 1 to 65535."}),
    (TemplateInput(image=OK.image, port="http"), {"port": "Enter a port number from 1 to 65535."}),
    (TemplateInput(image=OK.image, port="8012"), {"port": "Port 8012 is reserved by Knative's queue-proxy; choose "
                                                          "another port."}),
    (TemplateInput(image=OK.image, env=(EnvInput("", "value"),)),
     {"env-0-name": "Enter a name for this variable, or remove the row."}),
    (TemplateInput(image=OK.image, env=(EnvInput("1ABC", "x"),)),
     {"env-0-name": "Use letters, digits, '_', '-' or '.' in a variable name, and do not start with a digit."}),
    (TemplateInput(image=OK.image, env=(EnvInput("PORT", "1"),)),
     {"env-0-name": "PORT is set by Knative itself; use another name."}),
    (TemplateInput(image=OK.image, env=(EnvInput("A", "1"), EnvInput("B", ""), EnvInput("A", "2"))),
     {"env-2-name": "A is already defined above; keep one of the two rows."}),
    (TemplateInput(image=OK.image, cpu_request="lots"), {"cpu_request": "Use a Kubernetes quantity for CPU, such as "
                                                                        "100m or 0.5."}),
    (TemplateInput(image=OK.image, memory_limit="12 GB"),
     {"memory_limit": "Use a Kubernetes quantity for memory, such as 128Mi or 1Gi."}),
    (TemplateInput(image=OK.image, cpu_request="2", cpu_limit="500m"),
     {"cpu_request": "The CPU request (2) must not exceed the limit (500m)."}),
    (TemplateInput(image=OK.image, memory_request="1Gi", memory_limit="512Mi"),
     {"memory_request": "The memory request (1Gi) must not exceed the limit (512Mi)."}),
    # What `isdigit()` accepts and `int()` refuses, integers of 4,300+ digits, quantities float cannot hold.
    (TemplateInput(image=OK.image, port="8²"), {"port": "Enter a port number from 1 to 65535."}),
    (TemplateInput(image=OK.image, port="٨٠٨٠"), {"port": "Enter a port number from 1 to 65535."}),
    (TemplateInput(image=OK.image, port="1" * 4300), {"port": "Enter a port number from 1 to 65535."}),
    (TemplateInput(image=OK.image, min_scale="²"),
     {"min_scale": "Enter the min scale as a whole number of instances, 0 or more."}),
    (TemplateInput(image=OK.image, max_scale="9" * 5000),
     {"max_scale": "Enter the max scale as a whole number of instances, 0 or more."}),
    (TemplateInput(image=OK.image, target="١٠٠"),
     {"target": "Enter a concurrency target of at least 0.01 requests per instance, for example 100."}),
    (TemplateInput(image=OK.image, target="1_000"),
     {"target": "Enter a concurrency target of at least 0.01 requests per instance, for example 100."}),
    (TemplateInput(image=OK.image, cpu_request="1e400", cpu_limit="1"),
     {"cpu_request": "The CPU request (1e400) must not exceed the limit (1)."}),
    (TemplateInput(image=OK.image, cpu_request="-1"),
     {"cpu_request": "Use a quantity of 0 or more for CPU, such as 100m or 0.5."}),
    (TemplateInput(image=OK.image, memory_request="²Gi"),
     {"memory_request": "Use a Kubernetes quantity for memory, such as 128Mi or 1Gi."}),
    (TemplateInput(image="ghcr.io/knative/helloworld-go:１"),
     {"image": "This is not a valid image reference. Use a form such as ghcr.io/knative/helloworld-go:latest: a "
               "lowercase repository, then an optional :tag or @sha256:digest."}),
    (TemplateInput(image=OK.image, min_scale="-1"),
     {"min_scale": "Enter the min scale as a whole number of instances, 0 or more."}),
    (TemplateInput(image=OK.image, min_scale="3", max_scale="2"),
     {"max_scale": "Max scale must be at least the min scale (3), or 0 for no limit."}),
    (TemplateInput(image=OK.image, target="0"),
     {"target": "Enter a concurrency target of at least 0.01 requests per instance, for example 100."}),
    (TemplateInput(image=OK.image, target="nan"),
     {"target": "Enter a concurrency target of at least 0.01 requests per instance, for example 100."}),
])
def test_template_errors(template: TemplateInput, errors: dict[str, str]) -> None:
    with pytest.raises(forms.FormErrors) as raised:
        forms.parse_template(template)
    assert raised.value.fields == errors


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(forms.FormErrors) as raised:
        forms.parse_service(ServiceInput("Bad", "elsewhere", TemplateInput(port="x")), "default")
    assert set(raised.value.fields) == {"name", "visibility", "image", "port"}


def test_a_valid_form() -> None:
    form = ServiceInput(" helloworld-go ", "cluster-local", TemplateInput(
        image="ghcr.io/knative/helloworld-go:latest", protocol="grpc", port="9000",
        env=(EnvInput("TARGET", "Knative"), EnvInput("", "")), cpu_request="100m", cpu_limit="1",
        memory_request="128Mi", memory_limit="1Gi", min_scale="1", max_scale="0", target="50",
    ))
    draft = forms.parse_service(form, "team-a")
    assert draft == forms.ServiceDraft("helloworld-go", "team-a", Template(
        image="ghcr.io/knative/helloworld-go:latest", port=9000, protocol="grpc", env=(EnvVar("TARGET", "Knative"),),
        cpu_request="100m", cpu_limit="1", memory_request="128Mi", memory_limit="1Gi",
        scaling=Scaling("1", "0", "50"),
    ), cluster_local=True)


@pytest.mark.parametrize("image", [
    "ghcr.io/knative/helloworld-go:latest", "nginx", "library/nginx:1.25", "localhost:5000/app",
    "gcr.io/p/app@sha256:" + "a" * 64, "registry.example.com:443/team/app:v1.2.3-rc_1",
])
def test_images_accepted(image: str) -> None:
    assert forms.parse_template(TemplateInput(image=image)).image == image


def test_prefill_round_trip() -> None:
    template = Template(image="x", port=8080, protocol="http", env=(EnvVar("A", "1"), EnvVar("S", "", True)),
                        scaling=Scaling("1", "3", ""))
    prefill = forms.template_input(template)
    assert prefill.env == (EnvInput("A", "1"),)  # values from Secrets are not editable here
    assert forms.parse_template(prefill) == Template(image="x", port=8080, env=(EnvVar("A", "1"),),
                                                     scaling=Scaling("1", "3", ""))


@pytest.mark.parametrize(("service", "generation", "name"), [
    ("helloworld-go", 1, "helloworld-go-00001"),
    ("helloworld-go", 123456, "helloworld-go-123456"),
    ("a" * 57, 1, "a" * 57 + "-00001"),
])
def test_revision_names(service: str, generation: int, name: str) -> None:
    generated = naming.revision_name(service, generation)
    assert generated == name and len(generated) <= 63


def test_long_revision_names_are_hashed_like_knative() -> None:
    import hashlib

    service = "s" * 60
    assert naming.revision_name(service, 2) == "s" * 25 + hashlib.md5(service.encode()).hexdigest() + "-00002"
    assert len(naming.revision_name(service, 2)) == 63


def test_memory_limit_of_one_exbibyte_is_valid() -> None:
    """1Ei is a valid Kubernetes quantity; it used to raise ValueError in the comparison."""
    template = forms.parse_template(TemplateInput(image=OK.image, memory_request="1Gi", memory_limit="1Ei"))
    assert (template.memory_request, template.memory_limit) == ("1Gi", "1Ei")
