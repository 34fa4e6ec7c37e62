"""``pytest-incluster image``: the runner image as an OCI archive, built without a registry."""

from __future__ import annotations

from pathlib import Path

from pytest_incluster.cli.console import progress


def run_image(context: Path) -> int:
    """Build (or find in the cache) the runner image of ``context``; print the archive path."""
    from pytest_incluster.local.node.host import IMAGE_COMMANDS, require_packages, require_root

    require_root("`pytest-incluster image`")
    require_packages(IMAGE_COMMANDS)
    from pytest_incluster.local.node.image import build_runner_image

    print(build_runner_image(context.resolve(), progress))
    return 0
