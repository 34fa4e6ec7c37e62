"""Kubeconfigs whose user runs the test exec plugin (``exec_plugin.py``), for the live tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.config.options import Options, Sourced

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

PLUGIN = Path(__file__).resolve().parent / "exec_plugin.py"
V1 = "client.authentication.k8s.io/v1"


def write_kubeconfig(
    directory: Path, control_plane: ControlPlane, env: dict[str, str], **exec_extra: Any
) -> Path:
    """A kubeconfig in ``directory`` whose user runs ``./get-token`` (the test plugin)."""
    wrapper = directory / "get-token"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{PLUGIN}" "$@"\n')
    wrapper.chmod(0o755)
    stanza: dict[str, Any] = {
        "apiVersion": V1,
        "command": "./get-token",
        "interactiveMode": "Never",
        "env": [{"name": k, "value": v} for k, v in env.items()],
        **exec_extra,
    }
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "eks",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": control_plane.server,
                    "certificate-authority": str(control_plane.ca_file),
                },
            }
        ],
        "users": [{"name": "eks-user", "user": {"exec": stanza}}],
        "contexts": [{"name": "eks", "context": {"cluster": "c", "user": "eks-user"}}],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def config_from(kubeconfig: Path) -> ClusterConfig:
    options = Options(
        sa_dir=Sourced(str(kubeconfig.parent / "no-sa"), "default"),
        kubeconfig=Sourced(str(kubeconfig), "--incluster-kubeconfig"),
    )
    return resolve(options, {}, home=kubeconfig.parent, private_dir=kubeconfig.parent)


def token_env(control_plane: ControlPlane, kubectl: Path, sa: str, log: Path) -> dict[str, str]:
    return {
        "PLUGIN_MODE": "token",
        "PLUGIN_KUBECTL": str(kubectl),
        "PLUGIN_KUBECONFIG": str(control_plane.admin_kubeconfig),
        "PLUGIN_SA": sa,
        "PLUGIN_LOG": str(log),
    }


def runs(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
