"""A string wrapper that never shows its value in a repr, str, f-string or traceback.

Service-account tokens travel through configuration objects, clients and fixtures. Wrapping them
means an accidental ``print(config)`` or a ``--showlocals`` traceback shows ``Secret('***')``
instead of a credential; only :meth:`Secret.reveal` hands out the value, at the one place that
writes the ``Authorization`` header.
"""

from __future__ import annotations

from typing import Final

_MASK: Final = "***"


class Secret:
    """Holds a secret string; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself; call this only where it is sent, never where it is shown."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling (xdist, multiprocessing) would copy the value into another process's memory
        # and possibly onto disk; refuse so a secret only travels by explicit reveal().
        raise TypeError("Secret values cannot be pickled")
