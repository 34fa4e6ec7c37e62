"""The runner and pause images, built on this machine without any image registry.

The runner image is the user-facing ``deploy/Dockerfile`` itself, built with ``--build-arg
PYTHON_IMAGE=<a local base>``, so the install steps, user, working directory, entrypoint and
environment are exactly what users build; only the base differs. The base is a Debian root file
system made by ``mmdebstrap --variant=minbase`` with python3, python3-venv and ca-certificates,
from the Debian mirror this machine's apt sources name (read at run time, never written down).
Two adjustments let the Dockerfile run on it unchanged: ``python`` is a symlink to ``python3``
(Debian ships no ``python``), and pip trusts the CA bundle this machine trusts (a TLS-inspecting
proxy in front of the package index otherwise fails every ``pip install``).

The pause image is a ten-line static Go program ``FROM scratch``. Images are built with
``buildah bud --isolation chroot`` in a private, temporary storage directory and saved as OCI
archives in ``${XDG_CACHE_HOME:-~/.cache}/pytest-incluster/images``, named by a hash of what
went into them, so an unchanged recipe is never built twice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pytest_incluster.local.node.errors import NodeError
from pytest_incluster.local.node.mirror import debian_mirror
from pytest_incluster.local.processes import log_tail

Progress = Callable[[str], None]

RUNNER_IMAGE = "docker.io/library/pytest-incluster:0.1.0"
PAUSE_IMAGE = "localhost/pytest-incluster-pause:1"
BASE_IMAGE = "localhost/pytest-incluster-base:latest"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Documentation, manual pages and translations are not needed in a test runner.
_DPKG_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/locale/*",
    "/usr/share/info/*",
)
_HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# No CAP_SYS_RESOURCE here: a RUN step inherits these instead of the (too high) defaults.
_ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
PAUSE_SOURCE = """\
// The pod sandbox's first process: it holds the pod's namespaces and waits for SIGTERM.
package main

import (
\t"os"
\t"os/signal"
\t"syscall"
)

func main() {
\tstop := make(chan os.Signal, 1)
\tsignal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
\t<-stop
}
"""
_PAUSE_CONTAINERFILE = 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n'
_BASE_CONTAINERFILE = 'FROM scratch\nADD rootfs.tar /\nCMD ["python3"]\n'


class ImageError(NodeError):
    """An image could not be built; the message names the step and quotes its log."""


def images_cache(env: Mapping[str, str] | None = None) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/pytest-incluster/images``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-incluster" / "images"


def _run(argv: Sequence[str], log: Path, what: str, **kw: object) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        code = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **kw
        ).returncode  # type: ignore[call-overload]
    if code != 0:
        raise ImageError(
            f"Building the node images failed while {what}: `{argv[0]}` exited with status "
            f"{code}. Its output is in {log}; the last lines are below. Fix the cause (often "
            "network access to the package mirror or index, or disk space) and run again."
            f"\n{log_tail(log)}"
        )


def context_files(dockerfile: Path, context: Path) -> list[Path]:
    """The files the build may see: ``<Dockerfile>.dockerignore``'s ``!`` entries, or all.

    The project's ignore file is an allow-list (``*`` then ``!path`` lines); the same list
    makes the small build context here and the cache key of the image.
    """
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    allowed = [
        line[1:].strip().rstrip("/")
        for line in (ignore.read_text().splitlines() if ignore.is_file() else ["!."])
        if line.startswith("!")
    ]
    found: list[Path] = []
    for entry in allowed:
        path = context / entry
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        found += [
            p.relative_to(context)
            for p in candidates
            if p.is_file() and "__pycache__" not in p.parts and ".git" not in p.parts
        ]
    return sorted(set(found))


def _digest(parts: Sequence[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big") + part)
    return sha.hexdigest()[:16]


@contextmanager
def _buildah(work: Path) -> Iterator[list[str]]:
    """``buildah`` with private storage under ``work``, removed afterwards."""
    root, runroot = work / "storage", work / "runroot"
    base = ["buildah", "--root", str(root), "--runroot", str(runroot), "--storage-driver", "vfs"]
    try:
        yield base
    finally:
        subprocess.run(
            [*base, "rmi", "--all", "--force"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(work, ignore_errors=True)


def _bud(
    buildah: list[str],
    containerfile: Path,
    context: Path,
    tag: str,
    log: Path,
    extra: Sequence[str] = (),
) -> None:
    _run(
        [
            *buildah,
            "bud",
            "--isolation",
            "chroot",
            *_ULIMITS,
            "--layers=false",
            "-f",
            str(containerfile),
            "-t",
            tag,
            *extra,
            str(context),
        ],
        log,
        f"building {tag}",
    )


def build_rootfs(out: Path, log: Path, progress: Progress) -> None:
    """The base root file system as a tar file (``mmdebstrap``, about two minutes)."""
    mirror, suite = debian_mirror()
    progress(f"making a Debian {suite} root file system with {', '.join(BASE_PACKAGES)}")
    hooks = [
        'ln -sf python3 "$1/usr/bin/python"',
        f'cp {_HOST_CA_BUNDLE} "$1/etc/ssl/certs/ca-certificates.crt"',
        "printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' > \"$1/etc/pip.conf\"",
    ]
    _run(
        [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            *(f"--dpkgopt=path-exclude={pattern}" for pattern in _DPKG_EXCLUDES),
            *(f"--customize-hook={hook}" for hook in hooks),
            suite,
            str(out),
            mirror,
        ],
        log,
        "making the Debian root file system (mmdebstrap)",
    )


def _cached(name: str, progress: Progress, make: Callable[[Path, Path], None]) -> Path:
    """``images/name``, made by ``make(tmp_out, work)`` unless it exists; renamed into place."""
    cache = images_cache()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if target.is_file():
        return target
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache))
    started = time.monotonic()
    try:
        out = work / "out.tar"
        make(out, work)
        out.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = target.stat().st_size / 1e6
    progress(f"built {target} ({size:.0f} MB) in {time.monotonic() - started:.0f}s")
    return target


def build_runner_image(context: Path, progress: Progress, dockerfile: Path | None = None) -> Path:
    """The OCI archive of ``deploy/Dockerfile`` on the local Debian base, tagged
    :data:`RUNNER_IMAGE`; cached by the hash of the Dockerfile and its context files."""
    dockerfile = dockerfile or context / "deploy" / "Dockerfile"
    files = context_files(dockerfile, context)
    key = _digest(
        [dockerfile.read_bytes(), *(str(f).encode() + (context / f).read_bytes() for f in files)]
    )
    log = images_cache() / "build.log"

    def base_rootfs(out: Path, work: Path) -> None:
        build_rootfs(out, log, progress)

    rootfs = _cached(
        f"rootfs-{_digest([repr((BASE_PACKAGES, _DPKG_EXCLUDES)).encode()])}.tar",
        progress,
        base_rootfs,
    )

    def make(out: Path, work: Path) -> None:
        staged = work / "context"
        for name in files:
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(context / name, staged / name)
        (staged / "deploy").mkdir(exist_ok=True)
        shutil.copy2(dockerfile, staged / "deploy" / "Dockerfile.local")
        (work / "base").mkdir()
        os.link(rootfs, work / "base" / "rootfs.tar")
        (work / "base" / "Containerfile").write_text(_BASE_CONTAINERFILE)
        with _buildah(work / "buildah") as buildah:
            progress(f"building {RUNNER_IMAGE} from {dockerfile} on a local Debian base")
            _bud(buildah, work / "base" / "Containerfile", work / "base", BASE_IMAGE, log)
            _bud(
                buildah,
                staged / "deploy" / "Dockerfile.local",
                staged,
                RUNNER_IMAGE,
                log,
                ["--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "--pull-never"],
            )
            _run(
                [*buildah, "push", RUNNER_IMAGE, f"oci-archive:{out}:{RUNNER_IMAGE}"],
                log,
                "saving the runner image",
            )

    built = _cached(f"runner-{key}.tar", progress, make)
    for old in built.parent.glob("runner-*.tar"):  # older sources' images are never used again
        if old != built:
            old.unlink(missing_ok=True)
    return built


def build_pause_image(progress: Progress) -> Path:
    """The OCI archive of the pause image :data:`PAUSE_IMAGE` (a static Go program)."""
    go = shutil.which("go")
    if go is None:
        raise ImageError(
            "Building the pause image needs Go (`go` is not on PATH); install Go 1.26 or newer."
        )
    log = images_cache() / "build.log"

    def make(out: Path, work: Path) -> None:
        src = work / "src"
        src.mkdir()
        (src / "go.mod").write_text("module incluster.local/pause\n\ngo 1.26\n")
        (src / "main.go").write_text(PAUSE_SOURCE)
        env = {
            **os.environ,
            "CGO_ENABLED": "0",
            "GOTOOLCHAIN": "local",
            "GOWORK": "off",
            "GOFLAGS": "",
        }
        _run(
            [go, "build", "-trimpath", "-ldflags=-s -w", "-o", "pause", "."],
            log,
            "compiling the pause program",
            cwd=src,
            env=env,
        )
        (src / "Containerfile").write_text(_PAUSE_CONTAINERFILE)
        with _buildah(work / "buildah") as buildah:
            _bud(buildah, src / "Containerfile", src, PAUSE_IMAGE, log)
            _run(
                [*buildah, "push", PAUSE_IMAGE, f"oci-archive:{out}:{PAUSE_IMAGE}"],
                log,
                "saving the pause image",
            )

    return _cached(f"pause-{_digest([PAUSE_SOURCE.encode()])}.tar", progress, make)
