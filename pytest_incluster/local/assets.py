"""Find a directory holding ``etcd``, ``kube-apiserver`` and ``kubectl``, building it if needed.

Resolution order, first match wins:

1. an explicit directory (``--dir``): it must hold all three binaries, else a user error, because
   silently building something else would hide a typo;
2. ``KUBEBUILDER_ASSETS``, the variable controller-runtime's envtest uses, when it holds all
   three (one that lacks a binary is skipped and the reason reported through ``progress``; one
   of another release than the one named by ``--kubernetes-version`` or
   ``INCLUSTER_KUBERNETES_VERSION`` is a user error, never used silently);
3. the per-version cache ``${XDG_CACHE_HOME:-~/.cache}/pytest-incluster/k8s/<version>/``, kept
   outside the repository so every checkout and virtualenv shares one build;
4. a build from the Go module proxy with the local Go (:mod:`.build`), written into the cache.

Concurrent callers (two terminals, xdist workers, CI jobs sharing a cache) serialise on an
``fcntl`` lock file next to the version directory; the build happens in a temporary directory on
the same file system and is renamed into place, so a reader never sees a half-written cache.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pytest_incluster.kube_versions import DEFAULT_KUBERNETES_VERSION
from pytest_incluster.local.errors import AssetsError
from pytest_incluster.local.versions import (
    BINARIES,
    ETCD_VERSION_FILE,
    NODE_BINARIES,
    VERSION_VARIABLE,
    selected_kubernetes_version,
)

Progress = Callable[[str], None]

_VERSION_RE = re.compile(r"^v\d+\.\d+\.\d+$")
_REPORTED_RE = re.compile(r"\bKubernetes (v\d+\.\d+\.\d+)\b")


def _quiet(_: str) -> None:
    """Default progress sink: libraries do not print unless asked to."""


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/pytest-incluster/k8s``: one subdirectory per version."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-incluster" / "k8s"


def missing_binaries(directory: Path, names: tuple[str, ...] = BINARIES) -> list[str]:
    """The ``names`` (default :data:`BINARIES`) that are not executable files in ``directory``."""
    return [
        name
        for name in names
        if not ((directory / name).is_file() and os.access(directory / name, os.X_OK))
    ]


def check_version(version: str, source: str = "--kubernetes-version") -> str:
    """Reject anything but ``vMAJOR.MINOR.PATCH`` before it reaches a path or a go command."""
    if not _VERSION_RE.match(version):
        raise AssetsError(
            f"{source} {version!r} is not a Kubernetes release version; pass one of "
            f"the form vMAJOR.MINOR.PATCH, for example {DEFAULT_KUBERNETES_VERSION}."
        )
    return version


def _chosen_version(kubernetes_version: str | None, env: Mapping[str, str]) -> str:
    """The caller's version, else ``INCLUSTER_KUBERNETES_VERSION``, else the default; checked."""
    if kubernetes_version is not None:
        return check_version(kubernetes_version)
    return check_version(selected_kubernetes_version(env), f"{VERSION_VARIABLE}=")


def _named_release(kubernetes_version: str | None, env: Mapping[str, str]) -> str | None:
    """Where the release was named (option or variable), or ``None`` when it is the default."""
    if kubernetes_version is not None:
        return "--kubernetes-version"
    return VERSION_VARIABLE if env.get(VERSION_VARIABLE, "").strip() else None


def binary_release(directory: Path) -> str | None:
    """The release ``directory/kube-apiserver --version`` reports (``v1.37.2``); ``None`` if it
    says none (a stand-in script, a binary that does not run here)."""
    try:
        done = subprocess.run(
            [str(directory / "kube-apiserver"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _REPORTED_RE.search(done.stdout)
    return match.group(1) if match else None


def _check_envtest_release(directory: str, wanted: str, named_by: str) -> None:
    """A named release and a ``KUBEBUILDER_ASSETS`` of another one must not mix silently: the
    run would test one release and report the other."""
    found = binary_release(Path(directory))
    if found is not None and found != wanted:
        raise AssetsError(
            f"KUBEBUILDER_ASSETS={directory} holds Kubernetes {found}, but {named_by} asks for "
            f"{wanted}; KUBEBUILDER_ASSETS comes first, so the run would test {found}. Unset "
            f"KUBEBUILDER_ASSETS to use {wanted} from the cache (built on first use), point it "
            f"at a directory of {wanted} binaries, or leave out {named_by}."
        )


def resolve_assets(
    directory: Path | None = None,
    *,
    kubernetes_version: str | None = None,
    build: bool = True,
    progress: Progress = _quiet,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Return a directory holding all of :data:`BINARIES`, building into the cache if allowed.

    ``kubernetes_version`` defaults to ``INCLUSTER_KUBERNETES_VERSION``, else the newest
    supported release (:func:`~pytest_incluster.local.versions.selected_kubernetes_version`).

    ``env`` defaults to ``os.environ``; it is a parameter so tests can vary
    ``KUBEBUILDER_ASSETS``, ``XDG_CACHE_HOME`` and ``PATH`` without touching the process.
    """
    env = os.environ if env is None else env
    named_by = _named_release(kubernetes_version, env)
    kubernetes_version = _chosen_version(kubernetes_version, env)
    if directory is not None:
        missing = missing_binaries(directory)
        if missing:
            raise AssetsError(
                f"--dir {directory} does not hold the control-plane binaries (missing or not "
                f"executable: {', '.join(missing)}). Point --dir at a directory with etcd, "
                "kube-apiserver and kubectl, or leave it out to use the cache (built on first "
                "use when Go is installed)."
            )
        return directory.resolve()

    reasons: list[str] = []
    envtest = env.get("KUBEBUILDER_ASSETS")
    if envtest:
        missing = missing_binaries(Path(envtest))
        if not missing:
            if named_by is not None:
                _check_envtest_release(envtest, kubernetes_version, named_by)
            return Path(envtest).resolve()
        reasons.append(f"KUBEBUILDER_ASSETS={envtest} lacks {', '.join(missing)}")
        progress(f"ignoring {reasons[-1]}; using the cache instead")
    else:
        reasons.append("KUBEBUILDER_ASSETS is not set")

    target = cache_root(env) / kubernetes_version
    if not missing_binaries(target):
        if build and not (target / ETCD_VERSION_FILE).exists():
            _replace_etcd(target, kubernetes_version, progress=progress, env=env)
        return target
    reasons.append(f"the cache {target} is empty")
    if not build:
        raise AssetsError(
            f"No control-plane binaries for Kubernetes {kubernetes_version}: "
            f"{'; '.join(reasons)}. Run `pytest-incluster assets` once to build them, or set "
            "KUBEBUILDER_ASSETS to a directory holding etcd, kube-apiserver and kubectl."
        )
    go = shutil.which("go", path=env.get("PATH", os.defpath))
    if go is None:
        raise AssetsError(
            f"No control-plane binaries for Kubernetes {kubernetes_version} and no Go to build "
            f"them ({'; '.join(reasons)}; `go` is not on PATH). Either set KUBEBUILDER_ASSETS "
            "(or pass --dir) to a directory holding etcd, kube-apiserver and kubectl, for "
            "example one prepared by controller-runtime's setup-envtest, or install Go "
            "1.26 or newer and put `go` on PATH so `pytest-incluster assets` can build them "
            f"once into {target} (a cold build takes about ten minutes on two cores)."
        )
    return _build_locked(target, kubernetes_version, go=go, progress=progress, env=env)


@contextmanager
def _exclusive(lock_file: Path, progress: Progress) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file``; say so when another process holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another process building into the cache (lock {lock_file})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _scratch(target: Path, label: str) -> Iterator[tuple[Path, Path]]:
    """``(out, work)``: an empty ``out`` inside a scratch directory beside ``target`` (same file
    system, so a finished binary is renamed into place), removed afterwards whatever happens."""
    work = Path(tempfile.mkdtemp(prefix=f".{label}-", dir=target.parent))
    try:
        out = work / "out"
        out.mkdir()
        yield out, work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_locked(
    target: Path, version: str, *, go: str, progress: Progress, env: Mapping[str, str]
) -> Path:
    """Build into a temporary sibling of ``target`` and rename it into place, under the lock."""
    from pytest_incluster.local.build import build_assets  # only needed on a cache miss

    with _exclusive(target.parent / f".{version}.lock", progress):
        if not missing_binaries(target):  # another process finished while we waited
            return target
        if target.exists():  # a partial directory from something else; never merge into it
            shutil.rmtree(target)
        log = target.parent / f"{version}.build.log"
        started = time.monotonic()
        with _scratch(target, f"{version}.build") as (out, work):
            build_assets(version, out, work, go=go, log_file=log, progress=progress, env=env)
            out.rename(target)
        progress(f"built Kubernetes {version} into {target} in {time.monotonic() - started:.0f}s")
        return target


def _replace_etcd(
    target: Path, version: str, *, progress: Progress, env: Mapping[str, str]
) -> None:
    """Give a cache from before etcd followed the release (no ``etcd.version``) the release's
    own etcd, under the cache lock; without Go it is left as it is and used."""
    from pytest_incluster.local.build import build_release_etcd

    go = shutil.which("go", path=env.get("PATH", os.defpath))
    if go is None:
        return
    with _exclusive(target.parent / f".{version}.lock", progress):
        if (target / ETCD_VERSION_FILE).exists():
            return
        with _scratch(target, f"{version}.etcd") as (out, work):
            build_release_etcd(
                version,
                out,
                work,
                go=go,
                log_file=target.parent / f"{version}.etcd-build.log",
                progress=progress,
                env=env,
            )
            (out / "etcd").rename(target / "etcd")
            (out / ETCD_VERSION_FILE).rename(target / ETCD_VERSION_FILE)


def resolve_node_assets(
    *,
    kubernetes_version: str | None = None,
    build: bool = True,
    progress: Progress = _quiet,
    env: Mapping[str, str] | None = None,
) -> Path:
    """The cache directory of ``kubernetes_version`` once it holds :data:`NODE_BINARIES`.

    ``kubernetes_version`` defaults as in :func:`resolve_assets`.

    The node binaries always live in the per-version cache, beside the control-plane ones (a
    ``KUBEBUILDER_ASSETS`` directory never has them). They are built into a temporary sibling
    and each renamed into place under the same lock as :func:`resolve_assets`, so a reader sees
    a binary complete or not at all.
    """
    env = os.environ if env is None else env
    kubernetes_version = _chosen_version(kubernetes_version, env)
    target = cache_root(env) / kubernetes_version
    if not missing_binaries(target, NODE_BINARIES):
        return target
    go = shutil.which("go", path=env.get("PATH", os.defpath))
    if not build or go is None:
        raise AssetsError(
            f"No node binaries (kubelet, kube-controller-manager, kube-scheduler) for Kubernetes "
            f"{kubernetes_version} in {target}. Run `pytest-incluster assets --node` once to "
            "build them there; it needs Go 1.26 or newer on PATH"
            + (" (`go` is not on PATH now)." if go is None else ".")
        )
    from pytest_incluster.local.build import build_node_assets  # only needed on a cache miss

    with _exclusive(target.parent / f".{kubernetes_version}.lock", progress):
        if not missing_binaries(target, NODE_BINARIES):
            return target
        target.mkdir(parents=True, exist_ok=True)
        log = target.parent / f"{kubernetes_version}.node-build.log"
        started = time.monotonic()
        with _scratch(target, f"{kubernetes_version}.node") as (out, work):
            build_node_assets(
                kubernetes_version, out, work, go=go, log_file=log, progress=progress, env=env
            )
            for name in NODE_BINARIES:
                (out / name).rename(target / name)
        progress(
            f"built the Kubernetes {kubernetes_version} node binaries into {target} in "
            f"{time.monotonic() - started:.0f}s"
        )
        return target
