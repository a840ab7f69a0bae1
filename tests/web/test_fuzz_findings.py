"""What the long hypothesis runs and the walkthrough of hostile input found (tests/web/test_fuzz_surfaces.py,
tests/web/test_inputs.py at FUZZ_EXAMPLES=3000, both auth modes), one test each."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from tests.support import DevClusterProcess
from tests.web.conftest import KSVC, Console, form_fields, live_settings, open_stream, served


async def test_a_query_parameter_the_page_cannot_read_is_named_with_what_it_must_be(console: Console) -> None:
    """It said "The address or form was not understood." for each of these, without saying which part, or why."""
    ns = console.namespace()
    console.create_ksvc(ns, "q")
    for path, said in ((f"/namespaces/{ns}/services?start=x", "start must be a whole number"),
                       (f"/namespaces/{ns}/services?start=1e3", "start must be a whole number"),
                       ("/services?start=-1", "start must be at least 0"),
                       ("/services?start=1000000001", "start must be at most 1000000000"),
                       (f"/namespaces/{ns}/services?sort={'x' * 65}", "sort must be at most 64 characters long"),
                       (f"/namespaces/{ns}/services/q/diff?from={'a' * 254}&to=b",
                        "from must be at most 253 characters long")):
        answer = await console.get(path)
        assert answer.status_code == 400, (path, answer.status_code)
        assert f"The address is not understood: {said}." in answer.text, (path, answer.text)
        assert "Correct it or remove it from the address" in answer.text
        assert "x" * 65 not in answer.text and "a" * 254 not in answer.text.replace(path, "")


async def test_a_name_in_the_address_kubernetes_could_not_have_says_what_a_name_is(console: Console) -> None:
    """It said only "'Bad_Name' is not a valid namespace name.", and "'' is not a valid namespace name." for the
    namespace selector sent empty."""
    for path, said, what in (("/namespaces/Bad_Name/services", "&#39;Bad_Name&#39; is not a valid namespace name.",
                              "namespace"),
                             ("/namespaces/default/services/Nope/delete", "&#39;Nope&#39; is not a valid Service name.",
                              "Service"),
                             ("/namespace?namespace=", "No namespace name was given.", "namespace"),
                             ("/namespace?namespace=+", "No namespace name was given.", "namespace")):
        answer = await console.get(path)
        assert answer.status_code == 404, path
        assert said in answer.text, (path, answer.text)
        assert (f"A {what} name consists of lower case alphanumeric characters or &#39;-&#39;, and starts and ends "
                f"with an alphanumeric character (e.g. &#39;my-name&#39;): check the address, or choose the {what} "
                "from the console&#39;s pages.") in answer.text, path


async def test_a_csrf_token_outside_ascii_is_refused_not_a_500(console: Console) -> None:
    """hmac.compare_digest refuses a str with a character outside ASCII (TypeError): any POST to any route, with such
    a token in the form or the htmx header, was a 500 "Something went wrong"."""
    ns = console.namespace()
    await console.get("/healthz")
    for fields, headers in (([("name", "x"), ("csrf_token", "é")], {}),
                            ([("name", "x"), ("csrf_token", console.token[:-1] + "²")], {}),
                            ([("name", "x")], {"X-CSRF-Token": "\xe9".encode("latin-1")})):
        answer = await console.http.post(f"/namespaces/{ns}/services", content=urlencode(fields).encode(),
                                         headers={"Content-Type": "application/x-www-form-urlencoded", **headers})
        assert answer.status_code == 403, (fields, headers, answer.status_code)
        assert "The form is missing its security token or it has expired." in answer.text
    assert console.cluster.get(KSVC.format(ns=ns))["items"] == []


async def test_a_split_whose_signature_is_outside_ascii_is_read_again_not_a_500(console: Console) -> None:
    """The Split Traffic form's signed rows (basis_rows) with a character outside ASCII: a 500 once the rest of the
    form was valid; now the form is checked against the Service, as for any signature that does not match."""
    ns = console.namespace()
    console.create_ksvc(ns, "sig")
    await console.settled(ns, "sig")
    page = await console.get(f"/namespaces/{ns}/services/sig/traffic")
    fields = [(k, "é" if k == "basis_rows" else v) for k, v in form_fields(page.text, "split-form")]
    assert any(k == "basis_rows" for k, _ in fields) and any(k == "basis_uid" and v for k, v in fields)
    answer = await console.post_fields(f"/namespaces/{ns}/services/sig/traffic", [*fields, ("action", "ok")])
    assert answer.status_code == 303, (answer.status_code, answer.text[:2000])


async def test_a_traffic_check_stream_whose_signature_is_outside_ascii_is_refused_with_its_message(
        devcluster: DevClusterProcess) -> None:
    """The check's stream (`/live/…/check?sig=²`, found by the live endpoints' property at 2,000 examples): the
    exception was raised inside the stream, after its 200, and the connection was cut mid-answer."""
    ns = devcluster.new_namespace("sig")
    admin = Console(httpx.AsyncClient(), devcluster)
    admin.create_ksvc(ns, "chk")
    await admin.settled(ns, "chk")
    await admin.http.aclose()
    async with served(live_settings(devcluster)) as server, httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        async with open_stream(http, f"/live/namespaces/{ns}/services/chk/check?requests=5&sig=%C2%B2") as stream:
            done = await stream.until(lambda event: event.name == "done")
    assert "This check was not started from this console&#39;s page" in done[-1].data, done[-1]
