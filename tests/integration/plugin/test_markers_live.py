"""The impersonate and expect_unauthorized markers against the real kube-apiserver, run the way
users run them: a pytest subprocess with only ``--incluster-*`` options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


def _options(
    control_plane: ControlPlane, sa_dir: Path, token_file: Path | None = None
) -> list[str]:
    return [
        f"--incluster-server={control_plane.server}",
        f"--incluster-token-file={token_file or sa_dir / 'token'}",
        f"--incluster-ca-file={sa_dir / 'ca.crt'}",
        f"--incluster-namespace={(sa_dir / 'namespace').read_text()}",
        "-p",
        "no:cacheprovider",
    ]


def _grant(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    """The runner may impersonate user jane (and nobody else); jane may list configmaps."""
    manifest = tmp_path / "grants.yaml"
    manifest.write_text(
        f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {namespace}-impersonate-jane}}
rules:
- apiGroups: [""]
  resources: [users]
  verbs: [impersonate]
  resourceNames: [jane]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {namespace}-impersonate-jane}}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {namespace}-impersonate-jane
subjects:
- {{kind: ServiceAccount, name: runner, namespace: {namespace}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: configmap-reader, namespace: {namespace}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: jane-reads-configmaps, namespace: {namespace}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}}
"""
    )
    from pytest_incluster.local.provision import apply_manifests

    apply_manifests(control_plane, [manifest])


def test_impersonate_marker(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
    tmp_path: Path,
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    _grant(control_plane, unique_namespace, tmp_path)
    runner = f"system:serviceaccount:{unique_namespace}:runner"
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.impersonate("jane")
        def test_as_jane(k8s, k8s_namespace):
            assert k8s.whoami().username == "jane"
            k8s.get(f"/api/v1/namespaces/{{k8s_namespace}}/configmaps")

        @pytest.mark.impersonate("jane")
        @pytest.mark.expect_forbidden(verb="list", resource="secrets")
        def test_jane_cannot_list_secrets(k8s, k8s_namespace):
            k8s.get(f"/api/v1/namespaces/{{k8s_namespace}}/secrets")

        def test_back_to_the_runner(k8s):
            assert k8s.whoami().username == "{runner}"

        @pytest.mark.impersonate("bob")
        def test_as_bob(k8s):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*_options(control_plane, sa_dir), "-rA")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"@pytest.mark.impersonate('bob'): the runner {runner} may not impersonate users "
            '"bob". Grant it the *',
        ]
    )


def test_expect_unauthorized_with_a_rejected_token(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    bad = pytester.path / "bad-token"
    bad.write_text("not-a-valid-token\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.expect_unauthorized
        def test_rejected(k8s):
            k8s.get("/api")

        @pytest.mark.expect_forbidden
        def test_401_is_not_403(k8s):
            k8s.get("/api")
        """
    )
    result = pytester.runpytest_subprocess(*_options(control_plane, sa_dir, bad), "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "incluster: server * | kubernetes unknown (GET /version -> 401 Unauthorized: "
            "Unauthorized) | identity unknown | *",
            "*GET /api -> 401 Unauthorized: Unauthorized*",
            "PASSED test_*::test_rejected",
        ]
    )
    assert "not-a-valid-token" not in result.stdout.str() + result.stderr.str()
