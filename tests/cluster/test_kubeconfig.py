"""kubeconfig handling as kubectl's: an exec credential plugin (EKS, GKE, kubelogin) is run again once the token it
gave expires, and again (once) when the cluster answers 401; and with several files in KUBECONFIG the first one that
sets current-context wins. The plugin here is a small script that hands out dev cluster tokens in turn."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import yaml

from app.cluster.client import Cluster
from tests.support import DevClusterProcess

PLUGIN = """
import datetime, json, pathlib, sys
state = pathlib.Path(sys.argv[1])
runs = int((state / "runs").read_text()) if (state / "runs").exists() else 0
(state / "runs").write_text(str(runs + 1))
tokens = json.loads((state / "tokens.json").read_text())
token, lifetime = tokens[min(runs, len(tokens) - 1)]
status = {"token": token}
if lifetime:
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=lifetime)
    status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": status}))
"""


def _kubeconfig(cluster: DevClusterProcess, path: Path, user: dict, context: str = "devcluster",
                current: str | None = "devcluster") -> Path:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": f"{context}-user", "user": user}]
    config["contexts"] = [{"name": context, "context": {"cluster": "devcluster", "user": f"{context}-user"}}]
    if current is None:
        config.pop("current-context")
    else:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def _plugin(tmp_path: Path, tokens: list[tuple[str, int]]) -> tuple[dict, Path]:
    state = tmp_path / "plugin"
    state.mkdir()
    (state / "tokens.json").write_text(json.dumps(tokens))
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(script), str(state)], "interactiveMode": "Never"}}, state


async def test_an_exec_plugin_runs_again_after_401_and_when_its_token_expires(devcluster: DevClusterProcess,
                                                                             tmp_path: Path) -> None:
    alice, bob = devcluster.user_tokens["alice"], devcluster.user_tokens["bob"]
    user, state = _plugin(tmp_path, [("revoked-token", 0), (alice, 1), (bob, 3600)])
    cluster = await Cluster.connect(str(_kubeconfig(devcluster, tmp_path / "kubeconfig", user)), request_timeout=5)
    try:
        assert (await cluster.whoami()).name == "alice"  # the first token got a 401: the plugin ran again
        assert (state / "runs").read_text() == "2"
        assert (await cluster.whoami()).name == "alice"  # still valid: not run again
        assert (state / "runs").read_text() == "2"
        await asyncio.sleep(1.2)
        assert (await cluster.whoami()).name == "bob"  # alice's token expired (by the plugin's word): run again
        assert (state / "runs").read_text() == "3"
        for _ in range(3):
            await cluster.whoami()  # a token that has not expired is reused, the plugin never run per call
        assert (state / "runs").read_text() == "3"
    finally:
        await cluster.close()


async def test_the_first_file_that_sets_current_context_wins(devcluster: DevClusterProcess, tmp_path: Path) -> None:
    none = _kubeconfig(devcluster, tmp_path / "none", {"token": devcluster.token}, "admin", current=None)
    alice = _kubeconfig(devcluster, tmp_path / "alice", {"token": devcluster.user_tokens["alice"]}, "a", "a")
    bob = _kubeconfig(devcluster, tmp_path / "bob", {"token": devcluster.user_tokens["bob"]}, "b", "b")
    for files, expected in (([none, alice, bob], "alice"), ([bob, alice], "bob")):
        cluster = await Cluster.connect(os.pathsep.join(str(f) for f in files), request_timeout=5)
        try:
            assert (await cluster.whoami()).name == expected, files
        finally:
            await cluster.close()
