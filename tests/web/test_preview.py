""""What will be sent": every dialog that writes shows its exact request and the same change as commands. The
kubectl commands are run, exactly as shown, through bash against the dev cluster on a twin Service in another
namespace, and give the same object as pressing the dialog's button (kn is not installed here: its lines are
checked as text in tests/knative/test_commands.py)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import kubectl_binary
from tests.web.conftest import KSVC, Console
from tests.web.test_writes import _create_form, split_path, submit, wizard_path


def shown(page: str, what: str) -> str:
    """The text of the preview's `sent-<what>` block."""
    found = re.search(rf'<pre class="code" id="sent-{what}"[^>]*>(.*?)</pre>', page, re.S)
    assert found, f"no {what} in the page"
    return html.unescape(found.group(1))


@pytest.fixture
def kubectl_on_path(tmp_path: Path) -> Path:
    (tmp_path / "kubectl").symlink_to(kubectl_binary("1.33"))
    return tmp_path


def run(console: Console, command: str, bin_dir: Path) -> None:
    """The command as a user pastes it into bash."""
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KUBECONFIG": str(console.cluster.kubeconfig),
           "KUBECACHEDIR": str(bin_dir / "cache")}
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def twin(command: str, ns: str, other: str) -> str:
    """The same command for the twin Service in the other namespace."""
    return re.sub(rf" -n {ns}(?=\s|$)", f" -n {other}", command).replace(f"namespace: {ns}\n", f"namespace: {other}\n")


def spec(console: Console, ns: str, name: str) -> dict:
    return console.ksvc(ns, name)["spec"]


async def test_shown_commands_make_the_same_objects_as_the_dialogs(console: Console, kubectl_on_path: Path) -> None:
    ns, other = console.namespace(), console.namespace()
    form = _create_form("same", env_name=["TARGET"], env_value=["it's \"quoted\" $HOME"], cpu_request="100m")
    preview = await console.post(f"/namespaces/{ns}/services", {**form, "action": "preview"})
    assert preview.status_code == 200 and "<html" not in preview.text
    assert shown(preview.text, "body").startswith("{") and json.loads(shown(preview.text, "body"))["kind"] == "Service"
    apply = shown(preview.text, "kubectl")
    assert apply.startswith("kubectl apply -f - <<'EOF'\n") and "knative-console/" not in apply
    assert shown(preview.text, "kn").startswith(f"kn service create same -n {ns} --image ")
    run(console, twin(apply, ns, other), kubectl_on_path)
    assert (await console.post(f"/namespaces/{ns}/services", form)).status_code == 303
    assert spec(console, ns, "same") == spec(console, other, "same")
    for namespace in (ns, other):
        await console.settled(namespace, "same")

    wizard = await console.get(wizard_path(ns, "same"))
    rows = [("new", "same-00002", "20", "next"), ("latest", "", "0", ""), ("revision", "same-00001", "80", "")]
    step3 = await submit(console, wizard_path(ns, "same"), wizard.text, "wizard", "preview", rows=rows,
                         env_value="Two", step="3")
    patch = shown(step3.text, "kubectl")
    assert patch.startswith(f"kubectl patch ksvc same -n {ns} --type merge -p '") and "resourceVersion" not in patch
    body = json.loads(shown(step3.text, "body"))
    assert body["metadata"]["resourceVersion"] == console.ksvc(ns, "same")["metadata"]["resourceVersion"]
    run(console, twin(patch, ns, other), kubectl_on_path)
    created = await submit(console, wizard_path(ns, "same"), wizard.text, "wizard", "create", rows=rows,
                           env_value="Two")
    assert created.status_code == 303, created.text
    assert spec(console, ns, "same") == spec(console, other, "same")
    for namespace in (ns, other):
        await console.settled(namespace, "same", revisions=2)

    dialog = await console.get(split_path(ns, "same"))
    fifty = [("latest", "", "10", "edge"), ("revision", "same-00002", "40", ""), ("revision", "same-00001", "50", "")]
    typed = await submit(console, split_path(ns, "same"), dialog.text, "split-form", "preview", rows=fifty)
    assert typed.status_code == 200 and "<html" not in typed.text  # the preview alone, for htmx to swap in
    assert shown(typed.text, "kn") == (f"kn service update same -n {ns} --untag next --tag @latest=edge "
                                       "--traffic @latest=10 --traffic same-00002=40 --traffic same-00001=50")
    run(console, twin(shown(typed.text, "kubectl"), ns, other), kubectl_on_path)
    assert (await submit(console, split_path(ns, "same"), dialog.text, "split-form", "ok", rows=fifty)
            ).status_code == 303
    assert spec(console, ns, "same") == spec(console, other, "same")

    await console.settled(ns, "same", revisions=2)  # the split's status written: the version the dialog shows stays
    delete = await console.get(f"/namespaces/{ns}/services/same/delete")
    assert json.loads(shown(delete.text, "body"))["preconditions"] == {
        "resourceVersion": console.ksvc(ns, "same")["metadata"]["resourceVersion"]}
    run(console, twin(shown(delete.text, "kubectl"), ns, other), kubectl_on_path)
    assert (await submit(console, f"/namespaces/{ns}/services/same/delete", delete.text, "delete", "")
            ).status_code == 303
    for namespace in (ns, other):
        assert console.cluster.get(KSVC.format(ns=namespace))["items"] == []


async def test_a_gradual_rollout_is_in_what_will_be_sent(console: Console, kubectl_on_path: Path) -> None:
    """The wizard's "Roll out gradually" is the Service's rollout-duration annotation in the request and in both
    commands; clearing it removes the annotation, in the commands too."""
    ns, other = console.namespace(), console.namespace()
    for namespace in (ns, other):
        console.create_ksvc(namespace, "slow", env={"TARGET": "one"})
    for namespace in (ns, other):
        await console.settled(namespace, "slow")
    annotation = "serving.knative.dev/rollout-duration"
    for generation, (rollout, value, flag) in enumerate(((
            "1", "1s", f"--annotation-service {annotation}=1s"), ("", None, f"--annotation-service {annotation}-")),
            start=2):
        wizard = await console.get(wizard_path(ns, "slow"))
        rows = [("new", f"slow-0000{generation}", "0", ""), ("latest", "", "100", ""),
                ("revision", f"slow-0000{generation - 1}", "0", "")]
        step3 = await submit(console, wizard_path(ns, "slow"), wizard.text, "wizard", "preview", rows=rows,
                             rollout=rollout, env_value=f"v{generation}", step="3")
        body = json.loads(shown(step3.text, "body"))
        assert body["metadata"]["annotations"][annotation] == value
        patch = shown(step3.text, "kubectl")
        assert json.dumps({annotation: value}, separators=(",", ":"))[1:-1] in patch
        assert flag in shown(step3.text, "kn")
        run(console, twin(patch, ns, other), kubectl_on_path)
        created = await submit(console, wizard_path(ns, "slow"), wizard.text, "wizard", "create", rows=rows,
                               rollout=rollout, env_value=f"v{generation}")
        assert created.status_code == 303, created.text
        stored = [console.ksvc(namespace, "slow") for namespace in (ns, other)]
        assert stored[0]["spec"] == stored[1]["spec"]
        assert [s["metadata"].get("annotations", {}).get(annotation) for s in stored] == [value, value]
        for namespace in (ns, other):
            await console.settled(namespace, "slow", revisions=generation)


async def test_the_preview_says_why_nothing_can_be_sent(console: Console) -> None:
    ns = console.namespace()
    blank = await console.get(f"/namespaces/{ns}/services/new")
    assert "Fill in the form to see the request." in blank.text and 'id="sent-body"' not in blank.text
    bad = await console.post(f"/namespaces/{ns}/services", {**_create_form("Bad_Name"), "action": "preview"})
    assert bad.status_code == 200 and "Fill in the form to see the request: Use lowercase letters" in \
        html.unescape(bad.text)
    console.create_ksvc(ns, "sum")
    await console.settled(ns, "sum")
    dialog = await console.get(split_path(ns, "sum"))
    off = await submit(console, split_path(ns, "sum"), dialog.text, "split-form", "preview",
                       rows=[("latest", "", "60", "")])
    assert "Nothing can be sent yet: Traffic must add up to 100%; these add up to 60%." in off.text
    assert console.ksvc(ns, "sum")["metadata"]["generation"] == 1
