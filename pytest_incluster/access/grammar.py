"""The ``kubectl auth can-i`` argument grammar, parsed without talking to any server.

An entry is ``VERB TYPE[/NAME]`` or ``VERB /NON-RESOURCE-URL`` with the flags ``-n NS`` /
``--namespace=NS``, ``-A`` / ``--all-namespaces`` and ``--subresource=SUB`` anywhere after the
verb. The result is an unresolved :class:`CheckSpec`: the TYPE is kept as typed, because only the
server's discovery can tell what ``deploy`` means.

Verbs are the ones ``kubectl auth can-i`` (v1.37, ``pkg/cmd/auth/cani.go``) knows for resources,
plus ``proxy``, which the API server still derives from ``/api/v1/proxy/...`` paths
(``requestinfo.go``'s ``specialVerbs``) and RBAC rules still grant. kubectl merely warns about
any other verb; we refuse it, because RBAC verbs are case-sensitive free text and a typo such as
``lsit`` would be "forbidden" for everyone, making a ``forbidden:`` entry pass for nothing.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass, field

from pytest_incluster.config.names import DNS_LABEL
from pytest_incluster.errors import InclusterError

RESOURCE_VERBS = frozenset(
    {
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "use",
        "bind",
        "escalate",
        "impersonate",
        "approve",
        "sign",
        "attest",
        "proxy",
        "*",
    }
)
# kubectl's nonResourceURLVerbs: the lower-cased HTTP methods the server uses as verbs.
NON_RESOURCE_VERBS = frozenset({"get", "put", "post", "head", "options", "delete", "patch", "*"})
# What a 403 message can name as the verb ("cannot list resource ...", "cannot post path ..."):
# every concrete verb above; "*" is only ever a rule's wildcard, never a request's verb.
DENIAL_VERBS = (RESOURCE_VERBS | NON_RESOURCE_VERBS) - {"*"}

EXAMPLES = (
    "get pods",
    "create deployments.apps -n shop",
    "get pods/web --subresource=log",
    "list secrets -A",
    "get /healthz",
)

_SUBRESOURCE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class GrammarError(ValueError, InclusterError):
    """An entry that is not valid ``kubectl auth can-i`` syntax.

    ``problem`` says what is wrong, ``example`` shows the right form; ``str()`` has both.
    """

    anchor = "access-file"

    def __init__(self, problem: str, example: str = "") -> None:
        self.problem = problem
        self.example = example
        super().__init__(f"{problem} (example: '{example}')" if example else problem)


@dataclass(frozen=True)
class CheckSpec:
    """One parsed entry, TYPE not yet resolved against the server.

    Exactly one of ``type`` and ``path`` is non-empty. ``namespace`` is the ``-n`` value (None:
    use the document's or the runner's namespace); ``all_namespaces`` is ``-A``.
    """

    verb: str
    type: str = ""
    name: str | None = None
    path: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    subresource: str | None = None

    @property
    def is_resource(self) -> bool:
        return self.path is None

    def canonical(self) -> str:
        """One normal form, so ``-n x`` and ``--namespace=x`` count as the same check."""
        if self.path is not None:
            return f"{self.verb} {self.path}"
        text = f"{self.verb} {self.type.lower()}"
        if self.name is not None:
            text += f"/{self.name}"
        if self.subresource:
            text += f" --subresource={self.subresource}"
        if self.all_namespaces:
            text += " -A"
        elif self.namespace:
            text += f" -n {self.namespace}"
        return text


def _flag_value(words: list[str], index: int, flag: str) -> tuple[str, int]:
    """The value of ``--flag=value``, ``--flag value``, ``-nvalue`` or ``-n value``."""
    word = words[index]
    if word.startswith("--") and "=" in word:
        return word.split("=", 1)[1], index + 1
    if flag == "-n" and word.startswith("-n") and len(word) > 2:
        return word[2:], index + 1
    if index + 1 >= len(words) or words[index + 1].startswith("-"):
        raise GrammarError(
            f"{flag} needs a value", f"list pods {flag}{'=' if flag.startswith('--') else ' '}shop"
        )
    return words[index + 1], index + 2


def _check_namespace(value: str) -> str:
    if not DNS_LABEL.match(value):
        raise GrammarError(
            f"'{value}' is not a namespace name (lower-case letters, digits and '-', at most "
            "63 characters)",
            "list pods -n shop",
        )
    return value


def closest_verb(verb: str, known: frozenset[str]) -> str | None:
    """The known verb ``verb`` is most likely a typo of (``lsit`` -> ``list``), if any."""
    close = difflib.get_close_matches(verb.lower(), sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_verb_text(verb: str, known: frozenset[str], kind: str = "") -> str:
    """``unknown verb 'lsit'[ for KIND] (did you mean 'list'?); valid verbs: ...``.

    One wording for access files and markers, so a typo reads the same wherever it is made.
    """
    close = closest_verb(verb, known)
    hint = f" (did you mean '{close}'?)" if close else ""
    listed = ", ".join(sorted(known - {"*"})) + (" or *" if "*" in known else "")
    return f"unknown verb '{verb}'{f' for {kind}' if kind else ''}{hint}; valid verbs: {listed}"


def _unknown_verb(verb: str, known: frozenset[str], target: str) -> GrammarError:
    kind = "a non-resource URL" if target.startswith("/") else "a resource"
    close = closest_verb(verb, known)
    return GrammarError(unknown_verb_text(verb, known, kind), f"{close or 'get'} {target}")


_NEEDS_SHLEX = re.compile(r"[\"'\\#]")


@dataclass
class _Words:
    """An entry's words sorted into positional words and the flags entries accept."""

    positional: list[str] = field(default_factory=list)
    namespace: str | None = None
    all_namespaces: bool = False
    subresource: str | None = None


def _split(text: str) -> list[str]:
    try:
        # shlex is only needed for quoting; plain entries (nearly all) split on whitespace.
        return shlex.split(text) if _NEEDS_SHLEX.search(text) else text.split()
    except ValueError as exc:
        raise GrammarError(f"cannot split '{text}' into words: {exc}", EXAMPLES[1]) from None


def _sort_words(words: list[str]) -> _Words:
    """Flags and positional words; a repeated, unknown or subject flag is an error."""
    found = _Words()
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-A", "--all-namespaces", "--all-namespaces=true"):
            found.all_namespaces = True
            i += 1
        elif word == "--all-namespaces=false":
            i += 1
        elif word in ("-n", "--namespace") or word.startswith(("--namespace=", "-n")):
            value, i = _flag_value(words, i, "--namespace" if word.startswith("--") else "-n")
            if found.namespace is not None:
                # kubectl silently keeps the last one; an entry must say one thing.
                raise GrammarError(
                    f"the namespace is given twice ('{found.namespace}' and '{value}'); give one "
                    "-n/--namespace",
                    "list pods -n shop",
                )
            found.namespace = _check_namespace(value)
        elif word == "--subresource" or word.startswith("--subresource="):
            value, i = _flag_value(words, i, "--subresource")
            if found.subresource is not None:
                raise GrammarError(
                    f"--subresource is given twice ('{found.subresource}' and '{value}'); give one",
                    "get pods --subresource=log",
                )
            if not _SUBRESOURCE.match(value):
                raise GrammarError(
                    f"'{value}' is not a subresource name", "get pods --subresource=log"
                )
            found.subresource = value
        elif word.startswith("--as"):
            raise GrammarError(
                f"'{word}' is not an entry flag: set the subject with the document's 'as:' and "
                "'groups:' keys",
                "as: system:serviceaccount:shop:api",
            )
        elif word.startswith("-") and len(word) > 1:
            raise GrammarError(
                f"unknown flag '{word}'; entries accept -n/--namespace, -A/--all-namespaces "
                "and --subresource",
                EXAMPLES[2],
            )
        else:
            found.positional.append(word)
            i += 1
    return found


def parse_entry(text: str) -> CheckSpec:
    """Parse one entry; raises :class:`GrammarError` with what is wrong and a correct example."""
    if not isinstance(text, str):
        raise GrammarError(f"an entry must be text, got {type(text).__name__}", EXAMPLES[0])
    words = _sort_words(_split(text))
    positional, namespace, subresource = words.positional, words.namespace, words.subresource
    all_namespaces = words.all_namespaces
    if len(positional) != 2:
        got = "nothing" if not positional else " ".join(f"'{p}'" for p in positional)
        raise GrammarError(
            f"an entry is VERB and TYPE[/NAME] (or VERB /URL), got {got}", EXAMPLES[1]
        )
    verb, target = positional
    if namespace is not None and all_namespaces:
        raise GrammarError(f"-n {namespace} and -A contradict each other; use one", "list pods -A")
    if target.startswith("/"):
        if verb not in NON_RESOURCE_VERBS:
            raise _unknown_verb(verb, NON_RESOURCE_VERBS, target)
        if subresource is not None:
            raise GrammarError("--subresource cannot be used with a non-resource URL", EXAMPLES[2])
        if namespace is not None or all_namespaces:
            raise GrammarError("a non-resource URL has no namespace; drop -n/-A", "get /healthz")
        return CheckSpec(verb=verb, path=target)
    if verb not in RESOURCE_VERBS:
        raise _unknown_verb(verb, RESOURCE_VERBS, target)
    type_text, slash, name = target.partition("/")
    if not type_text:
        raise GrammarError(f"'{target}' names no resource type", "get pods/web")
    if slash and not name:
        raise GrammarError(f"'{target}' ends in '/' but names no object", "get pods/web")
    return CheckSpec(
        verb=verb,
        type=type_text,
        name=name if slash else None,
        namespace=namespace,
        all_namespaces=all_namespaces,
        subresource=subresource,
    )
