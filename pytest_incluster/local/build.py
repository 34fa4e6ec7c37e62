"""Build etcd, kube-apiserver and kubectl from the Go module proxy with the local Go toolchain.

Why wrapper modules: ``k8s.io/kubernetes`` requires its ~33 staging modules (``k8s.io/api``,
``k8s.io/apiserver``, ...) at the placeholder ``v0.0.0`` and resolves them with
``replace k8s.io/X => ./staging/src/k8s.io/X``. A dependency's replace lines are ignored, and the
staging trees are not part of the ``k8s.io/kubernetes`` module zip, so ``go install`` cannot build
it. A throwaway module that requires ``k8s.io/kubernetes vX.Y.Z`` and maps every staging module to
its published ``v0.Y.Z`` can. The staging list is read from upstream's own go.mod (the file
``go mod download -json`` reports as ``GoMod``) rather than written down here, so a new staging
module in a future release needs no code change. etcd needs the same trick for a different reason:
its tagged go.mod files carry relative replaces (``=> ../api``), which ``go install pkg@version``
rejects.

Upstream's ``go`` and ``godebug`` lines are copied into the wrapper because the main module's
lines decide the binary's GODEBUG defaults; copying them makes the build behave like a release
build. Version ldflags make ``/version`` report the real release instead of
``v0.0.0-master+$Format:%H$``. ``GOTOOLCHAIN=local`` keeps the go command from fetching another
toolchain behind the user's back; a release that needs a newer Go fails with a clear message.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from pytest_incluster.local.errors import AssetsError
from pytest_incluster.local.processes import log_tail
from pytest_incluster.local.versions import ETCD_VERSION_FILE

Progress = Callable[[str], None]

KUBE_MODULE = "k8s.io/kubernetes"
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
KUBE_COMMANDS = ("kube-apiserver", "kubectl")
#: What a real node adds (``pytest-incluster assets --node``); built from the same wrapper module.
NODE_COMMANDS = ("kubelet", "kube-controller-manager", "kube-scheduler")
# Upstream hack/lib/golang.sh builds with these tags; ``notest`` drops test-only code paths.
BUILD_TAGS = "selinux,notest,grpcnotrace"
# Both packages carry the version variables; upstream hack/lib/version.sh sets both.
VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
_HEARTBEAT_SECONDS = 60.0
# Measured on two shared cores with a cold Go build cache, for the progress message only (the
# node's 15 was measured with kube-apiserver's packages already cached; 55 on a busy machine).
# Measured from empty Go caches on two quiet cores: 12 min for the control plane (module
# downloads included), then 4 min for the node, which reuses the control plane's packages.
_COLD_MINUTES = {"kube-apiserver": 12, "kubelet": 4}

_STAGING_RE = re.compile(
    r"^(k8s\.io/[A-Za-z0-9._-]+)\s+=>\s+\./staging/src/(k8s\.io/[A-Za-z0-9._-]+)$"
)
_GO_VERSION_RE = re.compile(r"^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?")


class BuildError(AssetsError):
    """A go command failed; the message names the command and quotes the log tail."""


@dataclass(frozen=True)
class UpstreamGoMod:
    """What the wrapper copies from an upstream go.mod."""

    go: str  # e.g. "1.26.0"
    godebug: tuple[str, ...]  # e.g. ("default=go1.26",)
    staging: tuple[str, ...]  # module paths replaced with ./staging/src/... upstream


def parse_upstream_gomod(text: str) -> UpstreamGoMod:
    """Extract the ``go`` line, ``godebug`` settings and staging replaces from a go.mod."""
    go = ""
    godebug: list[str] = []
    staging: list[str] = []
    block: str | None = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        if block is not None:
            if line == ")":
                block = None
            elif block == "godebug":
                godebug.append(line)
            elif block == "replace":
                _collect_staging(line, staging)
            continue
        keyword, _, rest = line.partition(" ")
        rest = rest.strip()
        if keyword == "go":
            go = rest
        elif keyword in ("godebug", "replace") and rest == "(":
            block = keyword
        elif keyword == "godebug":
            godebug.append(rest)
        elif keyword == "replace":
            _collect_staging(rest, staging)
    if not go:
        raise BuildError("the upstream go.mod has no `go` line; it cannot be built as a module.")
    return UpstreamGoMod(go=go, godebug=tuple(godebug), staging=tuple(staging))


def _collect_staging(replace: str, into: list[str]) -> None:
    match = _STAGING_RE.match(replace)
    if match and match.group(1) == match.group(2):
        into.append(match.group(1))


def go_version_tuple(version: str) -> tuple[int, int, int] | None:
    """``"go1.26.8"`` or ``"1.26.0"`` -> ``(1, 26, 8)``; ``None`` for e.g. ``"devel ..."``."""
    match = _GO_VERSION_RE.match(version.strip())
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def staging_version(kubernetes_version: str) -> str:
    """Staging modules are published as ``v0.MINOR.PATCH`` for Kubernetes ``v1.MINOR.PATCH``."""
    _, minor, patch = kubernetes_version.lstrip("v").split(".")
    return f"v0.{minor}.{patch}"


def version_ldflags(kubernetes_version: str, *, commit: str, build_date: str) -> str:
    """``-X`` flags that make ``/version`` and ``kubectl version`` report the real release."""
    major, minor, _ = kubernetes_version.lstrip("v").split(".")
    values = {
        "gitVersion": kubernetes_version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitCommit": commit,
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]  # upstream release builds strip symbols as well
    for package in VERSION_PACKAGES:
        flags += [f"-X {package}.{name}={value}" for name, value in values.items()]
    return " ".join(flags)


def render_wrapper_gomod(
    module: str, upstream: UpstreamGoMod, require: str, replaces: Mapping[str, str]
) -> str:
    """The throwaway module's go.mod: upstream's go/godebug lines, one require, the replaces."""
    lines = [f"module {module}", "", f"go {upstream.go}", ""]
    if upstream.godebug:
        lines += ["godebug (", *(f"\t{setting}" for setting in upstream.godebug), ")", ""]
    lines += [f"require {require}", ""]
    if replaces:
        lines += ["replace (", *(f"\t{m} => {m} {v}" for m, v in sorted(replaces.items())), ")"]
    return "\n".join(lines) + "\n"


def render_tools_go(packages: Sequence[str]) -> str:
    """A build-tagged file importing the commands so ``go mod tidy`` records their deps."""
    imports = "\n".join(f'\t_ "{p}"' for p in packages)
    return f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"


class _Go:
    """Runs go commands with a fixed environment, appending their output to one log file."""

    def __init__(self, go: str, env: Mapping[str, str], log_file: Path, progress: Progress):
        self.go = go
        self.log_file = log_file
        self.progress = progress
        self.env = dict(env)
        # Never switch toolchains silently, never pick up a go.work or GOFLAGS from the caller.
        self.env.update(GOTOOLCHAIN="local", GOWORK="off", GOFLAGS="")

    def run(self, args: Sequence[str], cwd: Path, *, what: str) -> None:
        """Run ``go args`` in ``cwd``; on failure raise :class:`BuildError` with the log tail."""
        started = time.monotonic()
        with self.log_file.open("a") as log:
            log.write(f"\n$ (cd {cwd} && go {shlex.join(args)})\n")
            log.flush()
            proc = subprocess.Popen(
                [self.go, *args],
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            while True:
                try:
                    code = proc.wait(timeout=_HEARTBEAT_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    minutes = (time.monotonic() - started) / 60
                    self.progress(f"  still {what} ({minutes:.0f} min so far)")
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
        if code != 0:
            raise BuildError(
                f"Building the control-plane binaries failed while {what}: `go {args[0]}` "
                f"exited with status {code}. The full output is in {self.log_file}; its last "
                f"lines are below. Fix the cause (often network access to the Go module proxy "
                f"or disk space) and run `pytest-incluster assets` again.\n"
                f"{log_tail(self.log_file)}"
            )

    def output(self, args: Sequence[str], cwd: Path) -> str:
        """Run a quick go command and return its stdout (stderr goes to the log)."""
        with self.log_file.open("a") as log:
            log.write(f"\n$ (cd {cwd} && go {shlex.join(args)})\n")
            log.flush()
            done = subprocess.run(
                [self.go, *args],
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
            log.write(done.stderr)
        if done.returncode != 0:
            raise BuildError(
                f"`go {' '.join(args)}` exited with status {done.returncode} (output in "
                f"{self.log_file}). Check network access to the Go module proxy (GOPROXY) and "
                f"run `pytest-incluster assets` again.\n{log_tail(self.log_file)}"
            )
        return done.stdout

    def download(self, module_at_version: str, cwd: Path) -> dict[str, str]:
        """``go mod download -json``: paths of the module's .info and .mod files, and more."""
        info = json.loads(self.output(["mod", "download", "-json", module_at_version], cwd))
        if info.get("Error"):
            raise BuildError(
                f"The Go module proxy could not serve {module_at_version}: {info['Error']}. "
                "Check the version (--kubernetes-version) and network access to the proxy."
            )
        return {k: v for k, v in info.items() if isinstance(v, str)} | {
            "OriginHash": str((info.get("Origin") or {}).get("Hash", ""))
        }


def _require_go(go: _Go, needed: str, what: str, cwd: Path) -> None:
    """Fail clearly when upstream's ``go`` line is newer than the local toolchain."""
    local = go.output(["env", "GOVERSION"], cwd).strip()
    have, want = go_version_tuple(local), go_version_tuple(needed)
    if have is None or want is None:
        go.progress(f"  cannot compare Go versions ({local!r} vs go {needed}); trying anyway")
        return
    if have < want:
        raise BuildError(
            f"{what} needs Go {needed} (its go.mod says `go {needed}`), but the local Go is "
            f"{local} and GOTOOLCHAIN=local forbids fetching another one. Install Go {needed} "
            "or newer, or pass an older --kubernetes-version."
        )


def release_etcd_version(dependencies_yaml: str, kubernetes_version: str) -> str:
    """The etcd release a Kubernetes release is tested with, from its ``build/dependencies.yaml``.

    Upstream pins its etcd there (the ``etcd`` dependency, e.g. ``version: 3.6.6`` in v1.35.4,
    ``3.7.0`` in v1.37.2) and keeps every manifest and CI job in step with it; reading it from the
    release itself means a new release needs no table here, and each release runs against the
    etcd its own CI ran against.
    """
    document = yaml.safe_load(dependencies_yaml) or {}
    for dependency in document.get("dependencies") or ():
        if isinstance(dependency, dict) and dependency.get("name") == "etcd":
            version = str(dependency.get("version", "")).lstrip("v")
            if re.fullmatch(r"\d+\.\d+\.\d+", version):
                return f"v{version}"
    raise BuildError(
        f"{KUBE_MODULE} {kubernetes_version}'s build/dependencies.yaml names no etcd version; "
        "this builder cannot tell which etcd the release is tested with. Pass another "
        "--kubernetes-version."
    )


def _release_etcd(version: str, info: Mapping[str, str]) -> str:
    """The etcd version of the downloaded release ``info`` (``go mod download -json``)."""
    dependencies = Path(info["Dir"]) / "build" / "dependencies.yaml"
    try:
        text = dependencies.read_text()
    except OSError as exc:
        raise BuildError(
            f"Cannot read {dependencies} ({exc.strerror}), which names the etcd release "
            f"Kubernetes {version} is tested with. Remove Go's module cache entry "
            f"(`go clean -modcache`) and run `pytest-incluster assets` again."
        ) from None
    return release_etcd_version(text, version)


def _build_kubernetes(
    go: _Go, version: str, out: Path, work: Path, names: Sequence[str] = KUBE_COMMANDS
) -> str:
    """Build ``names``; return the etcd version the release is tested with."""
    go.progress(f"fetching {KUBE_MODULE} {version} from the Go module proxy")
    info = go.download(f"{KUBE_MODULE}@{version}", work)
    etcd_version = _release_etcd(version, info)
    upstream = parse_upstream_gomod(Path(info["GoMod"]).read_text())
    _require_go(go, upstream.go, f"Kubernetes {version}", work)
    if not upstream.staging:
        raise BuildError(
            f"{KUBE_MODULE} {version}'s go.mod has no `=> ./staging/src/...` replaces; this "
            "builder does not know how to build that layout. Pass another --kubernetes-version."
        )
    build_date = json.loads(Path(info["Info"]).read_text()).get("Time", "")
    module_dir = work / "kube"
    module_dir.mkdir()
    pinned = staging_version(version)
    (module_dir / "go.mod").write_text(
        render_wrapper_gomod(
            "incluster.local/k8sbuild",
            upstream,
            f"{KUBE_MODULE} {version}",
            dict.fromkeys(upstream.staging, pinned),
        )
    )
    commands = [f"{KUBE_MODULE}/cmd/{name}" for name in names]
    (module_dir / "tools.go").write_text(render_tools_go(commands))
    go.progress(f"resolving {len(upstream.staging)} staging modules at {pinned} (go mod tidy)")
    go.run(["mod", "tidy"], module_dir, what="resolving Kubernetes modules")
    what = f"compiling {', '.join(names[:-1])} and {names[-1]}"
    go.progress(
        f"{what} (a cold build took about {_COLD_MINUTES[names[0]]} minutes on two busy cores; "
        "later builds reuse Go's build cache)"
    )
    ldflags = version_ldflags(version, commit=info["OriginHash"], build_date=build_date)
    go.run(
        [
            "build",
            "-trimpath",
            "-buildvcs=false",
            "-tags",
            BUILD_TAGS,
            "-ldflags",
            ldflags,
            "-o",
            f"{out}{os.sep}",
            *commands,
        ],
        module_dir,
        what=what,
    )
    return etcd_version


def _build_etcd(go: _Go, etcd_version: str, out: Path, work: Path) -> None:
    go.progress(f"fetching {ETCD_MODULE} {etcd_version} from the Go module proxy")
    info = go.download(f"{ETCD_MODULE}@{etcd_version}", work)
    upstream = parse_upstream_gomod(Path(info["GoMod"]).read_text())
    _require_go(go, upstream.go, f"etcd {etcd_version}", work)
    module_dir = work / "etcd"
    module_dir.mkdir()
    (module_dir / "go.mod").write_text(
        render_wrapper_gomod(
            "incluster.local/etcdbuild", upstream, f"{ETCD_MODULE} {etcd_version}", {}
        )
    )
    (module_dir / "tools.go").write_text(render_tools_go([ETCD_MODULE]))
    go.run(["mod", "tidy"], module_dir, what="resolving etcd modules")
    go.progress("compiling etcd")
    go.run(
        ["build", "-trimpath", "-buildvcs=false", "-o", str(out / "etcd"), ETCD_MODULE],
        module_dir,
        what="compiling etcd",
    )
    (out / ETCD_VERSION_FILE).write_text(etcd_version + "\n")


def _release_go(go: str, env: Mapping[str, str], log_file: Path, progress: Progress) -> _Go:
    """The go runner for every Kubernetes build: ``CGO_ENABLED=0`` as upstream's release builds
    (no C toolchain, any libc). One setting for the control plane and the node, because Go's
    build cache keys depend on it: `assets --node` then reuses every package already compiled.
    """
    return _Go(go, {**env, "CGO_ENABLED": "0"}, log_file, progress)


def build_assets(
    kubernetes_version: str,
    out: Path,
    work: Path,
    *,
    go: str,
    log_file: Path,
    progress: Progress,
    env: Mapping[str, str],
) -> None:
    """Build ``kube-apiserver``, ``kubectl`` and ``etcd`` into the existing directory ``out``.

    ``work`` is a scratch directory for the wrapper modules; ``log_file`` collects every go
    command's output and is named in errors.
    """
    log_file.write_text(f"pytest-incluster build of Kubernetes {kubernetes_version}\n")
    progress(f"building Kubernetes {kubernetes_version} and its etcd (log: {log_file})")
    runner = _release_go(go, env, log_file, progress)
    etcd_version = _build_kubernetes(runner, kubernetes_version, out, work)
    _build_etcd(runner, etcd_version, out, work)


def build_release_etcd(
    kubernetes_version: str,
    out: Path,
    work: Path,
    *,
    go: str,
    log_file: Path,
    progress: Progress,
    env: Mapping[str, str],
) -> None:
    """Build only the etcd ``kubernetes_version`` is tested with into ``out``.

    For a cache written before the etcd followed the release (it has no ``etcd.version``): the
    Kubernetes binaries stay, the etcd is replaced by the release's own.
    """
    log_file.write_text(f"pytest-incluster build of the etcd of Kubernetes {kubernetes_version}\n")
    runner = _release_go(go, env, log_file, progress)
    info = runner.download(f"{KUBE_MODULE}@{kubernetes_version}", work)
    etcd_version = _release_etcd(kubernetes_version, info)
    progress(f"building etcd {etcd_version}, which Kubernetes {kubernetes_version} is tested with")
    _build_etcd(runner, etcd_version, out, work)


def build_node_assets(
    kubernetes_version: str,
    out: Path,
    work: Path,
    *,
    go: str,
    log_file: Path,
    progress: Progress,
    env: Mapping[str, str],
) -> None:
    """Build ``kubelet``, ``kube-controller-manager`` and ``kube-scheduler`` into ``out``.

    The same wrapper module and Go settings as :func:`build_assets` (see :func:`_release_go`).
    """
    log_file.write_text(f"pytest-incluster build of the Kubernetes {kubernetes_version} node\n")
    progress(f"building the Kubernetes {kubernetes_version} node binaries (log: {log_file})")
    runner = _release_go(go, env, log_file, progress)
    _build_kubernetes(runner, kubernetes_version, out, work, NODE_COMMANDS)
