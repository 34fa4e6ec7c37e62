"""Where the binaries come from: --dir, KUBEBUILDER_ASSETS, the cache, or a Go build.

The build orchestration (wrapper go.mod, flags, lock, atomic rename, error paths) runs against a
*fake* ``go`` executable: a real cold build takes minutes and cannot be made to fail on demand.
The real builder is exercised by ``pytest-incluster assets`` itself, which produced the binaries
every control-plane test here runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from pytest_incluster.local.assets import (
    AssetsError,
    binary_release,
    cache_root,
    resolve_assets,
    resolve_node_assets,
)
from pytest_incluster.local.build import (
    BuildError,
    go_version_tuple,
    parse_upstream_gomod,
    staging_version,
)
from pytest_incluster.local.versions import (
    BINARIES,
    DEFAULT_KUBERNETES_VERSION,
    NODE_BINARIES,
    selected_kubernetes_version,
)

UPSTREAM_GOMOD = """\
// generated
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tgithub.com/spf13/cobra v1.10.2
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go // a comment
\tgithub.com/example/x => github.com/example/y v1.0.0
)

replace k8s.io/streaming => ./staging/src/k8s.io/streaming
"""

ETCD_GOMOD = """\
module go.etcd.io/etcd/server/v3

go 1.25.0

toolchain go1.26.10

replace go.etcd.io/etcd/api/v3 => ../api
"""

# The part of upstream's build/dependencies.yaml the builder reads (v1.35.4's etcd).
UPSTREAM_DEPENDENCIES = """\
dependencies:
  - name: "coredns-kube-up"
    version: 1.12.4
  - name: "etcd"
    version: 3.6.6
    refPaths:
    - path: cluster/gce/manifests/etcd.manifest
      match: etcd_docker_tag|etcd_version
"""

FAKE_GO = """\
#!{python}
import json, os, pathlib, sys, time
root = pathlib.Path(os.environ["FAKE_GO_ROOT"])
args = sys.argv[1:]
with (root / "calls.jsonl").open("a") as log:
    record = {{"argv": args, "cwd": os.getcwd(), "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN"),
              "GOWORK": os.environ.get("GOWORK"), "GOFLAGS": os.environ.get("GOFLAGS"),
              "CGO_ENABLED": os.environ.get("CGO_ENABLED")}}
    log.write(json.dumps(record) + "\\n")
if os.environ.get("FAKE_GO_FAIL") == args[0]:
    print("fake go: simulated failure of", args[0], file=sys.stderr)
    sys.exit(3)
if args[:2] == ["env", "GOVERSION"]:
    print(os.environ.get("FAKE_GO_VERSION", "go1.26.8"))
elif args[:3] == ["mod", "download", "-json"]:
    module, version = args[3].split("@")
    name = "kube" if module == "k8s.io/kubernetes" else "etcd"
    info = root / (name + ".info")
    info.write_text(json.dumps({{"Version": version, "Time": "2026-10-27T12:01:04Z"}}))
    print(json.dumps({{"Path": module, "Version": version, "GoMod": str(root / (name + ".mod")),
                      "Info": str(info), "Dir": str(root / (name + ".src"))}}))
elif args[:2] == ["mod", "tidy"]:
    wrapper = pathlib.Path.cwd()
    (root / (wrapper.name + ".go.mod")).write_text((wrapper / "go.mod").read_text())
    (root / (wrapper.name + ".tools.go")).write_text((wrapper / "tools.go").read_text())
elif args[0] == "build":
    time.sleep(float(os.environ.get("FAKE_GO_SLEEP", "0")))
    out = args[args.index("-o") + 1]
    packages = args[args.index("-o") + 2:]
    targets = [out + p.rsplit("/", 1)[1] for p in packages] if out.endswith("/") else [out]
    for target in targets:
        pathlib.Path(target).write_text("#!/bin/sh\\necho fake\\n")
        os.chmod(target, 0o755)
"""


def make_bin_dir(directory: Path, names: tuple[str, ...] = BINARIES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text("#!/bin/sh\nexit 0\n")
        (directory / name).chmod(0o755)
    return directory


@pytest.fixture
def fake_go(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has only a fake ``go`` and whose cache is empty."""
    root = tmp_path / "fakego"
    (root / "bin").mkdir(parents=True)
    (root / "kube.mod").write_text(UPSTREAM_GOMOD)
    (root / "etcd.mod").write_text(ETCD_GOMOD)
    (root / "kube.src" / "build").mkdir(parents=True)
    (root / "kube.src" / "build" / "dependencies.yaml").write_text(UPSTREAM_DEPENDENCIES)
    go = root / "bin" / "go"
    go.write_text(FAKE_GO.format(python=sys.executable))
    go.chmod(0o755)
    return {
        "PATH": str(root / "bin"),
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "FAKE_GO_ROOT": str(root),
    }


def calls(env: Mapping[str, str]) -> list[dict[str, object]]:
    lines = (Path(env["FAKE_GO_ROOT"]) / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


CLI = (sys.executable, "-m", "pytest_incluster.cli")


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


# -- resolution order ---------------------------------------------------------------------


def test_kubebuilder_assets_with_all_three_wins(tmp_path: Path) -> None:
    envtest = make_bin_dir(tmp_path / "envtest")
    make_bin_dir(tmp_path / "cache" / "pytest-incluster" / "k8s" / DEFAULT_KUBERNETES_VERSION)
    env = {"KUBEBUILDER_ASSETS": str(envtest), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert resolve_assets(env=env) == envtest


def test_kubebuilder_assets_missing_one_falls_back_to_the_cache(tmp_path: Path) -> None:
    envtest = make_bin_dir(tmp_path / "envtest", ("etcd", "kube-apiserver"))
    cached = make_bin_dir(
        tmp_path / "cache" / "pytest-incluster" / "k8s" / DEFAULT_KUBERNETES_VERSION
    )
    env = {"KUBEBUILDER_ASSETS": str(envtest), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    said: list[str] = []
    assert resolve_assets(env=env, progress=said.append) == cached
    assert said == [f"ignoring KUBEBUILDER_ASSETS={envtest} lacks kubectl; using the cache instead"]


def _envtest_of(release: str, directory: Path) -> Path:
    """An envtest directory whose kube-apiserver reports ``release`` as the real one does."""
    make_bin_dir(directory)
    (directory / "kube-apiserver").write_text(f"#!/bin/sh\necho 'Kubernetes {release}'\n")
    return directory


def test_kubebuilder_assets_of_another_release_than_the_one_named_is_refused(
    tmp_path: Path,
) -> None:
    envtest = _envtest_of("v1.37.2", tmp_path / "envtest")
    env = {"KUBEBUILDER_ASSETS": str(envtest), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.raises(AssetsError) as by_variable:
        resolve_assets(env=env | {"INCLUSTER_KUBERNETES_VERSION": "v1.35.4"})
    assert str(by_variable.value).startswith(
        f"KUBEBUILDER_ASSETS={envtest} holds Kubernetes v1.37.2, but INCLUSTER_KUBERNETES_VERSION "
        "asks for v1.35.4; KUBEBUILDER_ASSETS comes first, so the run would test v1.37.2."
    )
    with pytest.raises(AssetsError, match=r"but --kubernetes-version asks for v1\.36\.3;"):
        resolve_assets(env=env, kubernetes_version="v1.36.3")
    # The same directory is used when it is the release named, or when none was named.
    assert resolve_assets(env=env | {"INCLUSTER_KUBERNETES_VERSION": "v1.37.2"}) == envtest
    assert resolve_assets(env=env, kubernetes_version="v1.37.2") == envtest
    assert resolve_assets(env=env) == envtest


def test_the_real_kube_apiserver_reports_the_release_under_test(k8s_assets: Path) -> None:
    assert binary_release(k8s_assets) == selected_kubernetes_version()


def test_a_non_executable_binary_counts_as_missing(tmp_path: Path) -> None:
    envtest = make_bin_dir(tmp_path / "envtest")
    (envtest / "etcd").chmod(0o644)
    with pytest.raises(AssetsError, match="lacks etcd"):
        resolve_assets(
            env={"KUBEBUILDER_ASSETS": str(envtest), "XDG_CACHE_HOME": str(tmp_path)},
            build=False,
        )


def test_explicit_dir_must_be_complete(tmp_path: Path) -> None:
    partial = make_bin_dir(tmp_path / "bin", ("kubectl",))
    with pytest.raises(AssetsError) as raised:
        resolve_assets(partial, env={})
    assert str(raised.value).startswith(f"--dir {partial} does not hold")
    assert "etcd, kube-apiserver" in str(raised.value)
    assert resolve_assets(make_bin_dir(tmp_path / "full"), env={}) == tmp_path / "full"


def test_cache_location_follows_xdg_cache_home(tmp_path: Path) -> None:
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "pytest-incluster" / "k8s"
    assert cache_root({}) == Path.home() / ".cache" / "pytest-incluster" / "k8s"


def test_a_bad_version_is_rejected_before_any_path_or_command() -> None:
    with pytest.raises(AssetsError, match=r"--kubernetes-version '1\.37' is not a Kubernetes"):
        resolve_assets(kubernetes_version="1.37", env={})


def test_the_version_variable_chooses_the_release_and_is_checked(tmp_path: Path) -> None:
    cached = make_bin_dir(tmp_path / "cache" / "pytest-incluster" / "k8s" / "v1.35.4")
    make_bin_dir(tmp_path / "cache" / "pytest-incluster" / "k8s" / DEFAULT_KUBERNETES_VERSION)
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PATH": str(tmp_path / "no-bin"),
        "INCLUSTER_KUBERNETES_VERSION": "v1.35.4",
    }
    assert resolve_assets(env=env) == cached
    # An explicit version wins over the variable; without the variable, the newest release.
    assert resolve_assets(env=env, kubernetes_version=DEFAULT_KUBERNETES_VERSION) != cached
    assert resolve_assets(env={"XDG_CACHE_HOME": str(tmp_path / "cache")}) != cached
    with pytest.raises(AssetsError, match=r"^INCLUSTER_KUBERNETES_VERSION= '1\.35' is not a"):
        resolve_assets(env=env | {"INCLUSTER_KUBERNETES_VERSION": "1.35"})


def test_no_go_and_no_assets_explains_both_ways_out(tmp_path: Path) -> None:
    env = {
        "PATH": str(tmp_path / "empty-bin"),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    done = run_cli("assets", env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert message.startswith("pytest-incluster: error: No control-plane binaries")
    assert "\n" not in message  # one paragraph
    assert "KUBEBUILDER_ASSETS is not set" in message
    assert "`go` is not on PATH" in message
    assert "install Go 1.26 or newer" in message
    assert str(tmp_path / "cache" / "pytest-incluster" / "k8s" / DEFAULT_KUBERNETES_VERSION) in (
        message
    )


def test_cli_prints_only_the_directory_on_stdout(tmp_path: Path) -> None:
    envtest = make_bin_dir(tmp_path / "envtest")
    done = run_cli("assets", env={"KUBEBUILDER_ASSETS": str(envtest), "HOME": str(tmp_path)})
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{envtest}\n", "")


# -- the builder, against a fake go ------------------------------------------------------------


def test_build_writes_wrapper_modules_and_release_flags(fake_go: dict[str, str]) -> None:
    said: list[str] = []
    target = resolve_assets(env=fake_go, kubernetes_version="v1.37.2", progress=said.append)
    root = Path(fake_go["FAKE_GO_ROOT"])
    assert target == Path(fake_go["XDG_CACHE_HOME"]) / "pytest-incluster/k8s/v1.37.2"
    assert sorted(p.name for p in target.iterdir()) == sorted([*BINARIES, "etcd.version"])
    assert (target / "etcd.version").read_text() == "v3.6.6\n"
    assert said[-1].startswith(f"built Kubernetes v1.37.2 into {target} in ")

    assert (root / "kube.go.mod").read_text() == textwrap.dedent("""\
        module incluster.local/k8sbuild

        go 1.26.0

        godebug (
        \tdefault=go1.26
        )

        require k8s.io/kubernetes v1.37.2

        replace (
        \tk8s.io/api => k8s.io/api v0.37.2
        \tk8s.io/client-go => k8s.io/client-go v0.37.2
        \tk8s.io/streaming => k8s.io/streaming v0.37.2
        )
        """)
    assert '_ "k8s.io/kubernetes/cmd/kube-apiserver"' in (root / "kube.tools.go").read_text()
    etcd_gomod = (root / "etcd.go.mod").read_text()
    assert etcd_gomod.startswith("module incluster.local/etcdbuild\n\ngo 1.25.0\n\n")
    # The etcd the release's own build/dependencies.yaml names, not a version pinned here.
    assert "require go.etcd.io/etcd/server/v3 v3.6.6\n" in etcd_gomod
    assert "replace" not in etcd_gomod  # etcd's relative replaces are not copied

    recorded = calls(fake_go)
    assert {(c["GOTOOLCHAIN"], c["GOWORK"], c["GOFLAGS"]) for c in recorded} == {
        ("local", "off", "")
    }
    builds = [c["argv"] for c in recorded if c["argv"][0] == "build"]  # type: ignore[index]
    assert len(builds) == 2
    kube = builds[0]
    assert isinstance(kube, list)
    assert kube[-2:] == ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kubectl"]
    assert "-trimpath" in kube
    assert kube[kube.index("-tags") + 1] == "selinux,notest,grpcnotrace"
    ldflags = kube[kube.index("-ldflags") + 1]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion=v1.37.2" in ldflags
        assert f"-X {package}.gitMajor=1" in ldflags
        assert f"-X {package}.gitMinor=37" in ldflags
        assert f"-X {package}.buildDate=2026-10-27T12:01:04Z" in ldflags
    assert builds[1][-1] == "go.etcd.io/etcd/server/v3"  # type: ignore[index]

    # Idempotent: a second call finds the cache and runs no go command.
    assert resolve_assets(env=fake_go, kubernetes_version="v1.37.2") == target
    assert len(calls(fake_go)) == len(recorded)


def test_node_build_adds_three_binaries_beside_the_control_plane(fake_go: dict[str, str]) -> None:
    done = run_cli("assets", "--node", env=fake_go)
    assert done.returncode == 0, done.stderr
    target = Path(fake_go["XDG_CACHE_HOME"]) / "pytest-incluster/k8s" / DEFAULT_KUBERNETES_VERSION
    assert done.stdout == f"{target}\n"
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [*BINARIES, *NODE_BINARIES, "etcd.version"]
    )
    builds = [c for c in calls(fake_go) if c["argv"][0] == "build"]  # type: ignore[index]
    node = builds[-1]["argv"]
    assert isinstance(node, list)
    assert node[-3:] == [f"k8s.io/kubernetes/cmd/{name}" for name in NODE_BINARIES]
    assert node[node.index("-tags") + 1] == "selinux,notest,grpcnotrace"
    assert "built the Kubernetes v1.37.2 node binaries into" in done.stderr
    # One cgo setting for every build: Go's build cache keys depend on it, so the node build
    # reuses what the control-plane build compiled instead of compiling Kubernetes again.
    assert {c["CGO_ENABLED"] for c in builds} == {"0"}, builds
    # Cached: the second call builds nothing.
    assert run_cli("assets", "--node", env=fake_go).returncode == 0
    assert len([c for c in calls(fake_go) if c["argv"][0] == "build"]) == len(builds)  # type: ignore[index]


def test_node_binaries_without_go_name_the_command_that_builds_them(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with pytest.raises(AssetsError) as raised:
        resolve_node_assets(env=env)
    message = str(raised.value)
    assert message.startswith("No node binaries (kubelet, kube-controller-manager, kube-scheduler)")
    assert "Run `pytest-incluster assets --node` once" in message
    assert "(`go` is not on PATH now)." in message


def test_concurrent_builds_build_once(fake_go: dict[str, str]) -> None:
    env = fake_go | {"FAKE_GO_SLEEP": "1"}
    procs = [
        subprocess.Popen(
            [*CLI, "assets", "--kubernetes-version", "v1.37.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0][0] == outputs[1][0]
    assert len([c for c in calls(fake_go) if c["argv"][0] == "build"]) == 2  # type: ignore[index]
    assert any("waiting for another process" in err for _, err in outputs)


def test_an_old_local_go_is_refused_with_the_needed_version(fake_go: dict[str, str]) -> None:
    with pytest.raises(BuildError) as raised:
        resolve_assets(env=fake_go | {"FAKE_GO_VERSION": "go1.25.3"}, kubernetes_version="v1.37.2")
    assert str(raised.value).startswith(
        "Kubernetes v1.37.2 needs Go 1.26.0 (its go.mod says `go 1.26.0`), but the local Go is "
        "go1.25.3"
    )
    assert not [c for c in calls(fake_go) if c["argv"][0] == "build"]  # type: ignore[index]


def test_a_failed_build_leaves_no_partial_cache(fake_go: dict[str, str]) -> None:
    with pytest.raises(BuildError) as raised:
        resolve_assets(env=fake_go | {"FAKE_GO_FAIL": "build"}, kubernetes_version="v1.37.2")
    message = str(raised.value)
    log = Path(fake_go["XDG_CACHE_HOME"]) / "pytest-incluster/k8s/v1.37.2.build.log"
    assert "compiling kube-apiserver and kubectl: `go build` exited with status 3" in message
    assert f"The full output is in {log}" in message
    assert "    fake go: simulated failure of build" in message
    assert sorted(p.name for p in log.parent.iterdir()) == [".v1.37.2.lock", "v1.37.2.build.log"]


# -- parsing --------------------------------------------------------------------------------


def test_parse_upstream_gomod_keeps_only_staging_replaces() -> None:
    parsed = parse_upstream_gomod(UPSTREAM_GOMOD)
    assert parsed.go == "1.26.0"
    assert parsed.godebug == ("default=go1.26",)
    assert parsed.staging == ("k8s.io/api", "k8s.io/client-go", "k8s.io/streaming")
    assert parse_upstream_gomod(ETCD_GOMOD).staging == ()


def test_parse_real_upstream_gomod(tmp_path: Path) -> None:
    # The real go.mod, fetched the way the builder fetches it (from the module cache when the
    # binaries were built here, else from the Go module proxy).
    done = subprocess.run(
        ["go", "mod", "download", "-json", "k8s.io/kubernetes@v1.37.2"],
        cwd=tmp_path,
        env={**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"},
        capture_output=True,
        text=True,
        check=True,
    )
    real = Path(json.loads(done.stdout)["GoMod"])
    parsed = parse_upstream_gomod(real.read_text())
    assert parsed.go == "1.26.0"
    assert len(parsed.staging) == 33
    assert {"k8s.io/api", "k8s.io/apiserver", "k8s.io/streaming"} <= set(parsed.staging)


def test_version_helpers() -> None:
    assert go_version_tuple("go1.26.8") == (1, 26, 8)
    assert go_version_tuple("1.26") == (1, 26, 0)
    assert go_version_tuple("devel go1.27-abc") is None
    assert staging_version("v1.37.2") == "v0.37.2"


def test_a_cache_from_before_etcd_followed_the_release_gets_the_releases_etcd(
    fake_go: dict[str, str],
) -> None:
    target = make_bin_dir(
        Path(fake_go["XDG_CACHE_HOME"]) / "pytest-incluster" / "k8s" / DEFAULT_KUBERNETES_VERSION
    )
    apiserver = (target / "kube-apiserver").read_text()
    assert resolve_assets(env=fake_go) == target
    builds = [c["argv"] for c in calls(fake_go) if c["argv"][0] == "build"]  # type: ignore[index]
    assert [b[-1] for b in builds] == ["go.etcd.io/etcd/server/v3"]  # type: ignore[index]
    assert (target / "etcd.version").read_text() == "v3.6.6\n"
    assert (target / "etcd").read_text() == "#!/bin/sh\necho fake\n"  # the new one
    assert (target / "kube-apiserver").read_text() == apiserver  # untouched
    resolve_assets(env=fake_go)
    assert len([c for c in calls(fake_go) if c["argv"][0] == "build"]) == 1  # type: ignore[index]


def test_without_go_an_old_cache_is_used_as_it_is(tmp_path: Path) -> None:
    target = make_bin_dir(tmp_path / "cache" / "pytest-incluster" / "k8s" / "v1.36.3")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": str(tmp_path / "no-bin")}
    assert resolve_assets(env=env, kubernetes_version="v1.36.3") == target
    assert not (target / "etcd.version").exists()
