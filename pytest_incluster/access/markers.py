"""The ``expect_*`` and ``impersonate`` markers: parsing, validation, and what they assert.

Parsing is one validating function per marker (like pytest-timeout's ``_parse_marker``): a typo
such as ``expect_forbidden(verbs="list")`` is an error naming the test and the accepted
signature, never a silently ignored argument that makes a negative test pass for the wrong reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from pytest_incluster.calls import ApiCall
from pytest_incluster.errors import InclusterError

ExpectKind = Literal["forbidden", "unauthorized", "allowed"]

SIGNATURES = {
    "expect_forbidden": "expect_forbidden(verb=None, resource=None, namespace=None)",
    "expect_unauthorized": "expect_unauthorized()",
    "expect_allowed": "expect_allowed()",
    "impersonate": "impersonate(user, groups=None)",
}


class MarkerError(InclusterError):
    """A marker was used with arguments it does not accept."""

    anchor = "marker-arguments"


@dataclass(frozen=True)
class ExpectSpec:
    """What an ``expect_*`` marker demands; filters are None when not given."""

    kind: ExpectKind
    verb: str | None = None
    resource: str | None = None
    namespace: str | None = None

    def describe(self) -> str:
        filters = [f"{k}={v}" for k, v in self.filters() if v is not None]
        code = {"forbidden": "403 Forbidden", "unauthorized": "401 Unauthorized"}.get(self.kind)
        what = code or "allowed access"
        return what + (f" ({', '.join(filters)})" if filters else "")

    def filters(self) -> list[tuple[str, str | None]]:
        return [("verb", self.verb), ("resource", self.resource), ("namespace", self.namespace)]


@dataclass(frozen=True)
class ImpersonateSpec:
    """Who the test's client acts as."""

    user: str
    groups: tuple[str, ...] = ()


def _text(marker: str, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MarkerError(f"{name}= must be a non-empty string, got {value!r}")
    return value


def _verb(verb: str | None) -> str | None:
    """``verb=`` must be a verb a 403 message can name: the access files' verbs, exactly.

    The server writes verbs lower-case, so ``LIST`` or ``lsit`` would never match a denial;
    they are refused with the same suggestion an access file gives.
    """
    from pytest_incluster.access.grammar import DENIAL_VERBS, unknown_verb_text

    if verb is None or verb in DENIAL_VERBS:
        return verb
    if verb == "*":
        raise MarkerError("verb='*' never appears in a 403; leave verb out to accept any verb")
    raise MarkerError(unknown_verb_text(verb, DENIAL_VERBS))


def _check_kwargs(marker: str, kwargs: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise MarkerError(f"unexpected argument {', '.join(repr(u) for u in unknown)}")


def parse_expect(item: pytest.Item) -> ExpectSpec | None:
    """The test's expectation from its ``expect_*`` marker, or None; raises MarkerError."""
    found = [m for m in item.iter_markers() if m.name in SIGNATURES and m.name != "impersonate"]
    kinds = {m.name for m in found}
    if len(kinds) > 1:
        raise MarkerError(f"conflicting markers {', '.join(sorted(kinds))}; use only one")
    if not found:
        return None
    marker = found[0]  # the closest one wins, as for other pytest markers
    name = marker.name
    if name == "expect_forbidden":
        names = ("verb", "resource", "namespace")
        if len(marker.args) > len(names):
            raise MarkerError(f"takes at most {len(names)} positional arguments")
        kwargs = dict(zip(names, marker.args, strict=False))
        duplicate = set(kwargs) & set(marker.kwargs)
        if duplicate:
            raise MarkerError(f"argument {sorted(duplicate)[0]!r} given twice")
        kwargs.update(marker.kwargs)
        _check_kwargs(name, kwargs, names)
        return ExpectSpec(
            "forbidden",
            verb=_verb(_text(name, "verb", kwargs.get("verb"))),
            resource=_text(name, "resource", kwargs.get("resource")),
            namespace=_text(name, "namespace", kwargs.get("namespace")),
        )
    if marker.args or marker.kwargs:
        raise MarkerError("takes no arguments")
    return ExpectSpec("unauthorized" if name == "expect_unauthorized" else "allowed")


def parse_impersonate(item: pytest.Item) -> ImpersonateSpec | None:
    """The test's ``impersonate`` marker, or None; raises MarkerError."""
    marker = item.get_closest_marker("impersonate")
    if marker is None:
        return None
    args = list(marker.args)
    kwargs = dict(marker.kwargs)
    _check_kwargs("impersonate", kwargs, ("user", "groups"))
    if len(args) > 2:
        raise MarkerError("takes at most 2 positional arguments")
    if args:
        if "user" in kwargs:
            raise MarkerError("argument 'user' given twice")
        kwargs["user"] = args.pop(0)
    if args:
        if "groups" in kwargs:
            raise MarkerError("argument 'groups' given twice")
        kwargs["groups"] = args.pop(0)
    user = _text("impersonate", "user", kwargs.get("user"))
    if user is None:
        raise MarkerError("requires the user to act as, e.g. impersonate('jane')")
    groups = kwargs.get("groups") or ()
    if isinstance(groups, str) or not all(isinstance(g, str) and g for g in groups):
        raise MarkerError(f"groups= must be a list of group names, got {groups!r}")
    return ImpersonateSpec(user, tuple(groups))


def marker_error_message(item: pytest.Item, marker: str, error: MarkerError) -> str:
    """The collection error text: test, marker, what is wrong, accepted signature."""
    return f"{item.nodeid}: @pytest.mark.{marker}: {error}; accepted: {SIGNATURES[marker]}"


# -- what a 403 was about -----------------------------------------------------------------

_RESOURCE_MESSAGE = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]*)" in API group '
    r'"(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]*)"| at the cluster scope)'
)
_PATH_MESSAGE = re.compile(r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) path "(?P<path>[^"]*)"')
# The authorization filter's wording (responsewriters.Forbidden), old and new servers alike. A
# 403 without it comes from a later stage (admission), after authorization allowed the request.
AUTHZ_DENIAL = re.compile(r'(?:^|: )User "[^"]*" cannot [^ ]+ ')


@dataclass(frozen=True)
class Denial:
    """The parts of an RBAC 403 message: who was refused what, where."""

    user: str
    verb: str
    resource: str  # "pods", "deployments.apps", "pods/log", or a path for non-resource URLs
    namespace: str  # "" at the cluster scope

    @classmethod
    def parse(cls, message: str) -> Denial | None:
        """Read the API server's forbidden message; None if it is not in the known form."""
        m = _RESOURCE_MESSAGE.search(message)
        if m:
            resource = m["resource"]
            if m["group"]:
                base, _, sub = resource.partition("/")
                resource = f"{base}.{m['group']}" + (f"/{sub}" if sub else "")
            return cls(m["user"], m["verb"], resource, m["namespace"] or "")
        p = _PATH_MESSAGE.search(message)
        if p:
            return cls(p["user"], p["verb"], p["path"], "")
        return None


def denial_mismatch(spec: ExpectSpec, denial: Denial | None) -> list[str]:
    """Filters of ``spec`` the denial does not satisfy, as ``name: expected X, was Y`` lines."""
    if denial is None:
        return [
            f"{k}: expected {v!r}, but the server's message could not be parsed"
            for k, v in spec.filters()
            if v is not None
        ]
    problems = []
    if spec.verb is not None and spec.verb != denial.verb:
        problems.append(f"verb: expected {spec.verb!r}, was {denial.verb!r}")
    if spec.resource is not None and spec.resource not in (
        denial.resource,
        denial.resource.split("/")[0],
    ):
        problems.append(f"resource: expected {spec.resource!r}, was {denial.resource!r}")
    if spec.namespace is not None and spec.namespace != denial.namespace:
        was = denial.namespace or "(cluster scope)"
        problems.append(f"namespace: expected {spec.namespace!r}, was {was!r}")
    return problems


def calls_listing(calls: Sequence[ApiCall]) -> str:
    """The requests a test made, one per line, for failure messages."""
    if not calls:
        return "  (the test made no API requests)"
    return "\n".join(f"  {call.describe()}" for call in calls)
