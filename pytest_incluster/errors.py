"""The one root of every error pytest-incluster raises on purpose.

A user (or a wrapping tool) can catch :class:`InclusterError` to handle "pytest-incluster said
no" without also catching bugs. Every error carries a README troubleshooting link built by
:func:`help_url`; ``tests/unit/docs/test_readme.py`` checks that every anchor the package can
emit exists in README.md. HTTP errors keep their httpx bases (``ApiError`` is still an
``httpx.HTTPStatusError``) and gain this one as a second base.
"""

from __future__ import annotations

README = "README.md"
TROUBLESHOOTING = "troubleshooting"


def help_url(anchor: str) -> str:
    """The README link for ``anchor``, e.g. ``README.md#token-file``."""
    return f"{README}#{anchor}"


class InclusterError(Exception):
    """Something pytest-incluster refused or could not do; ``str()`` is the user's message.

    Subclasses set ``anchor`` (a class attribute, or per instance) to the README section that
    explains the problem and its fix.
    """

    anchor: str = TROUBLESHOOTING

    @property
    def help_url(self) -> str:
        """Where the README explains this error."""
        return help_url(self.anchor)
