"""The one error a credential plugin can cause, worded for the person who configured it."""

from __future__ import annotations

from pytest_incluster.config.errors import ConfigError

STDERR_LIMIT = 1000


def quoted_stderr(stderr: bytes | None) -> str:
    """The plugin's stderr as one quoted line (whitespace collapsed, long text shortened)."""
    if stderr is None:
        return "its stderr went to the terminal"
    text = " ".join(stderr.decode("utf-8", errors="replace").split())
    if not text:
        return "it wrote nothing on stderr"
    if len(text) > STDERR_LIMIT:
        text = text[: STDERR_LIMIT - 3] + "..."
    return f'its stderr said: "{text}"'


class ExecPluginError(ConfigError):
    """An exec credential plugin could not give a credential.

    One paragraph: where the plugin is configured (kubeconfig path and user), what went wrong,
    the plugin's stderr (never its stdout, which holds the secret) and the fix. A ConfigError,
    so the fixtures report it like any other configuration problem.
    """

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(f"{where}: {problem}. {fix}", anchor="exec-plugin")
