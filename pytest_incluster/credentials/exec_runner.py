"""Running an exec credential plugin once, as client-go does, with a time limit.

* The environment is this process's, plus the stanza's ``env`` entries (which win), plus
  ``KUBERNETES_EXEC_INFO``.
* ``interactiveMode``: ``Never`` gives the plugin no standard input; ``IfAvailable`` gives it
  ours only when that is a terminal; ``Always`` refuses to run without a terminal. An
  interactive plugin's stderr goes to the terminal (its prompts must be seen); otherwise it is
  captured so a failure can quote it.
* Stdout is read whole and never shown: it holds the secret.
* Unlike client-go, the run is stopped after ``timeout_s`` (a plugin waiting for a browser
  login that never happens would otherwise hang the whole test run). A non-interactive plugin
  runs in its own process group, so helpers it started are stopped with it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from pytest_incluster.config.exec_spec import ExecPlugin
from pytest_incluster.credentials.errors import ExecPluginError, quoted_stderr
from pytest_incluster.credentials.exec_info import EXEC_INFO_ENV, exec_info
from pytest_incluster.credentials.exec_output import ExecCredential, OutputProblem, parse_credential

logger = logging.getLogger("pytest_incluster.credentials")

_RUN_FIX = (
    "Run the command by hand with the same arguments to see why (often a login that "
    "expired), or fix the exec stanza."
)


def stdin_is_terminal() -> bool:
    """Whether our standard input is a terminal (what ``IfAvailable``/``Always`` ask)."""
    try:
        return os.isatty(0)
    except OSError:
        return False


def _interactive(plugin: ExecPlugin, terminal: bool) -> bool:
    if plugin.interactive_mode == "Never":
        return False
    if plugin.interactive_mode == "Always" and not terminal:
        raise ExecPluginError(
            plugin.where,
            f"the exec credential plugin {plugin.command} needs a terminal (interactiveMode: "
            "Always) and standard input is not a terminal",
            "Log in first so the plugin need not ask (run the command by hand), run pytest "
            "from a terminal, or set interactiveMode to IfAvailable or Never if the plugin "
            "can work without one.",
        )
    return terminal


def _not_found(plugin: ExecPlugin, exc: OSError) -> ExecPluginError:
    if isinstance(exc, PermissionError):
        problem = f"the exec credential plugin {plugin.command} cannot be run ({exc.strerror})"
    else:
        problem = f"the exec credential plugin executable {plugin.command} was not found" + (
            "" if "/" in plugin.command else " on PATH"
        )
    hint = " ".join(plugin.install_hint.split())
    fix = hint or "Install it, or fix the command (and PATH) in the kubeconfig's exec stanza."
    return ExecPluginError(plugin.where, problem, fix)


def _stop(process: subprocess.Popen[bytes], own_group: bool) -> None:
    try:
        if own_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass


def _run(
    plugin: ExecPlugin, env: dict[str, str], interactive: bool
) -> tuple[int, bytes, bytes | None]:
    """Run the plugin; (exit code, stdout, stderr or None when it went to the terminal)."""
    try:
        process = subprocess.Popen(
            [plugin.command, *plugin.args],
            env=env,
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,
            process_group=None if interactive else 0,
        )
    except OSError as exc:
        raise _not_found(plugin, exc) from None
    try:
        stdout, stderr = process.communicate(timeout=plugin.timeout_s)
    except subprocess.TimeoutExpired:
        _stop(process, own_group=not interactive)
        _, stderr = process.communicate()
        raise ExecPluginError(
            plugin.where,
            f"the exec credential plugin {plugin.command} did not finish within "
            f"{plugin.timeout_s:g} s and was stopped; {quoted_stderr(stderr)}",
            "If it waits for a login or a prompt, log in first by running the command by "
            "hand; if it is just slow, raise --incluster-exec-timeout.",
        ) from None
    except BaseException:
        _stop(process, own_group=not interactive)
        process.communicate()
        raise
    return process.returncode, stdout, stderr


def run_plugin(
    plugin: ExecPlugin,
    *,
    environ: Mapping[str, str] | None = None,
    terminal: bool | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExecCredential:
    """Run ``plugin`` once and return its credential; ExecPluginError with the fix if not."""
    interactive = _interactive(plugin, stdin_is_terminal() if terminal is None else terminal)
    env = dict(os.environ if environ is None else environ)
    env.update(plugin.env)
    env[EXEC_INFO_ENV] = exec_info(plugin, interactive=interactive)
    logger.debug("running the exec credential plugin %s (%s)", plugin.command, plugin.where)
    code, stdout, stderr = _run(plugin, env, interactive)
    if code != 0:
        raise ExecPluginError(
            plugin.where,
            f"the exec credential plugin {plugin.command} failed with exit code {code}; "
            f"{quoted_stderr(stderr)}",
            _RUN_FIX,
        )
    try:
        return parse_credential(stdout, plugin.api_version, now())
    except OutputProblem as problem:
        raise ExecPluginError(
            plugin.where,
            f"the exec credential plugin {plugin.command} did not give a usable credential: "
            f"{problem} (its output is not shown: it may hold a secret); "
            f"{quoted_stderr(stderr)}",
            f"Check that the plugin supports apiVersion {plugin.api_version} (the "
            "kubeconfig's exec apiVersion must match what it prints) and works when run by "
            "hand.",
        ) from None
