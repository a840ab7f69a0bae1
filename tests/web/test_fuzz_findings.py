"""What the long hypothesis runs and the walkthrough of hostile input found (tests/web/test_fuzz_surfaces.py,
tests/web/test_inputs.py at FUZZ_EXAMPLES=3000, both auth modes), one test each."""

from __future__ import annotations

from tests.web.conftest import Console


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
