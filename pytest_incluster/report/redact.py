"""The one redactor every output of the plugin passes through.

A runner's token in a Job log, a JUnit file or an HTML report that is copied out of the cluster
is a credential leak, so test reports, log records, warnings, the terminal and the written report
files are all filtered by one :class:`Redactor` (kept on ``SessionState.redactor``).

Two kinds of rules:

* **Secrets** (:meth:`Redactor.add_secret`): exact values the plugin has handled, such as the
  token read from the service-account directory. Their standard and URL-safe base64 forms are
  redacted too, because that is how a value appears in a Secret's ``data`` map.
* **Patterns** (:meth:`Redactor.add_pattern` and the ``pytest_incluster_redact`` hook): regular
  expressions for secrets the plugin never saw. If a pattern has a group named ``secret``, only
  that group is masked (so ``Authorization: Bearer ***`` keeps its context); otherwise the whole
  match is. The built-in patterns catch JWT-looking strings (``eyJ...``: service-account and OIDC
  tokens), base64-encoded JWTs (``ZXlK...``: a token stored as a Secret ``data`` value),
  ``Bearer``/``Basic`` credentials in any header rendering, and ``token``/``password``-like
  fields in JSON, YAML, reprs and query strings (``"token": "..."`` as in a TokenRequest status).
  Secret ``data`` values that are not JWTs are not decoded and checked: an arbitrary base64 value
  cannot be told apart from any other identifier without decoding every word of every log line.

Patterns whose matches cannot cross markup (the literal secrets, JWTs, base64 JWTs, bearer
credentials: all from a token alphabet) are "markup-safe"; only they are used by
:meth:`Redactor.redact_markup` to sweep finished HTML and XML files, where a broad pattern could
swallow an entity or a quote and break the document.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

MASK: Final = "***"
# Shorter values would mask ordinary words; real tokens are far longer.
MIN_SECRET_LENGTH: Final = 8
# A run of token characters that contains this many consecutive characters of a known secret
# is masked whole: it is a piece of the secret (pytest's --showlocals shortens long values to
# a head, "..." and a tail, so neither part is an exact match).
FRAGMENT_LENGTH: Final = 16
_FRAGMENT_RUN = re.compile(rf"[A-Za-z0-9_\-.+/=]{{{FRAGMENT_LENGTH},}}")
_PEM_KEY_START = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\s*\n")
# The tail of a PEM key whose beginning was cut off (--showlocals shortens long values): found
# from its END marker backwards. A regex for "key characters, then END" would retry from every
# position of a long base64 run and take quadratic time on large captured output.
_PEM_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_PEM_TAIL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n'\"\\"
)
_PEM_TAIL_LIMIT = 16384  # longer than any PEM key body

_TOKEN_CHARS = r"A-Za-z0-9_\-"  # noqa: S105 - a character class, not a password

BUILTIN_PATTERNS: Final[tuple[tuple[str, bool], ...]] = (
    # A JWT: base64url header "eyJ..." (it always starts with '{"'), payload, optional signature.
    (
        rf"(?<![{_TOKEN_CHARS}])eyJ[{_TOKEN_CHARS}]{{4,}}\.[{_TOKEN_CHARS}]{{4,}}"
        rf"(?:\.[{_TOKEN_CHARS}]+)?",
        True,
    ),
    # The standard base64 of a JWT, as a Secret's data value: base64("eyJ") == "ZXlK".
    (r"(?<![A-Za-z0-9+/=])ZXlK[A-Za-z0-9+/]{16,}={0,2}", True),
    # Bearer/Basic credentials: headers, curl lines, httpx/httpcore reprs, kubeconfig dumps.
    (r"(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=\-]{16,})", True),
    # A PEM private key (the admin client key, a kubeconfig dump), possibly cut off at the end.
    (
        r"(?s)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?"
        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
        False,
    ),
    # A base64-encoded PEM private key, as in a kubeconfig's client-key-data.
    (
        r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{0,40}?(?:UFJJVkFURSBLRV|BSSVZBVEUgS0VZ|QUklWQVRFIEtFW)"
        r"[A-Za-z0-9+/=]*",
        True,
    ),
    # token/password fields: "token": "...", token: ..., token='...', ?token=..., TOKEN=...
    # With "=", the value must be quoted or follow without spaces, so source lines such as
    # ``token = read_token()`` or ``token == expected`` stay readable. The value stops at
    # quotes, whitespace, separators, '&', '<', '>' and '\' so it never eats a closing quote,
    # an HTML entity or a JSON escape.
    (
        r"(?i)(?<![A-Za-z0-9_\-])[\"']?(?:token|access[_-]?token|id[_-]?token|refresh[_-]?token|"
        r"bearer[_-]?token|password|passwd|client[_-]?secret|client-key-data)[\"']?"
        r"(?:\s*:\s*[\"']?|=[\"']?|\s*=\s*[\"'])"
        r"(?P<secret>[^\s\"'`,;{}\[\]()<>&\\=][^\s\"'`,;{}\[\]()<>&\\]*)",
        False,
    ),
)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    markup_safe: bool

    def apply(self, text: str) -> str:
        if "secret" in self.pattern.groupindex:
            return self.pattern.sub(_mask_group, text)
        return self.pattern.sub(_mask_whole, text)


def _mask_whole(match: re.Match[str]) -> str:
    return MASK if match.group(0) else ""


def _mask_group(match: re.Match[str]) -> str:
    whole = match.group(0)
    start, end = match.span("secret")
    if start < 0 or start == end:
        return whole
    offset = match.start()
    return whole[: start - offset] + MASK + whole[end - offset :]


def _mask_pem_tails(text: str) -> str:
    """Mask each cut-off PEM key tail: the key characters before an END marker, and the marker."""
    pieces: list[str] = []
    done = 0
    for match in _PEM_KEY_END.finditer(text):
        start = match.start()
        floor = max(done, start - _PEM_TAIL_LIMIT)
        while start > floor and text[start - 1] in _PEM_TAIL_CHARS:
            start -= 1
        if match.start() - start >= MIN_SECRET_LENGTH:
            pieces.append(text[done:start])
            pieces.append(MASK)
            done = match.end()
    pieces.append(text[done:])
    return "".join(pieces)


def _mask_fragment(match: re.Match[str], fragments: frozenset[str]) -> str:
    run = match.group(0)
    for i in range(len(run) - FRAGMENT_LENGTH + 1):
        if run[i : i + FRAGMENT_LENGTH] in fragments:
            return MASK
    return run


def _encodings(value: str) -> Iterable[str]:
    """The forms a secret takes on the way to an output: itself and its base64 encodings."""
    yield value
    raw = value.encode("utf-8")
    yield base64.b64encode(raw).decode("ascii")
    yield base64.urlsafe_b64encode(raw).decode("ascii")
    # Without padding, as in JWT segments and some tools' output.
    yield base64.b64encode(raw).decode("ascii").rstrip("=")


class Redactor:
    """Masks known secrets and secret-looking text; thread-safe (the client adds tokens from
    whichever thread re-reads the token file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._secret_re: re.Pattern[str] | None = None
        self._fragments: frozenset[str] = frozenset()
        self._rules: list[_Rule] = [_Rule(re.compile(p), safe) for p, safe in BUILTIN_PATTERNS]
        self._pattern_keys: set[tuple[str, int]] = {
            (r.pattern.pattern, r.pattern.flags) for r in self._rules
        }

    def add_secret(self, value: str) -> None:
        """Mask ``value`` (and its base64 forms) wherever it appears from now on.

        Values shorter than :data:`MIN_SECRET_LENGTH` are ignored: masking them would mangle
        ordinary text, and no real credential is that short.
        """
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            new = {v for v in _encodings(value) if len(v) >= MIN_SECRET_LENGTH} - self._secrets
            if not new:
                return
            self._secrets |= new
            # Longest first, so a value is masked whole rather than around a shorter secret.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._secret_re = re.compile("|".join(re.escape(s) for s in ordered))
            self._fragments = self._fragments | {
                v[i : i + FRAGMENT_LENGTH] for v in new for i in range(len(v) - FRAGMENT_LENGTH + 1)
            }

    def add_pattern(self, pattern: str | re.Pattern[str]) -> None:
        """Mask matches of ``pattern`` (a regular expression; a group named ``secret``, if
        present, limits the mask to that group). Adding the same pattern twice is a no-op."""
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        key = (compiled.pattern, compiled.flags)
        with self._lock:
            if key in self._pattern_keys:
                return
            self._pattern_keys.add(key)
            self._rules = [*self._rules, _Rule(compiled, markup_safe=False)]

    @staticmethod
    def spans_lines(text: str) -> bool:
        """Whether ``text`` holds a multi-line PEM private key, which can only be masked as
        whole text (not line by line, as a traceback's fields are)."""
        return bool(_PEM_KEY_START.search(text))

    def redact(self, text: str) -> str:
        """``text`` with every secret and every pattern match masked."""
        return self._redact(text, markup_only=False)

    def redact_markup(self, text: str) -> str:
        """Like :meth:`redact`, but only with rules whose matches cannot cross markup; for
        sweeping finished HTML/XML files without breaking their structure."""
        return self._redact(text, markup_only=True)

    def _redact(self, text: str, *, markup_only: bool) -> str:
        if not text:
            return text
        secret_re, rules = self._secret_re, self._rules  # consistent snapshot, no lock needed
        fragments = self._fragments
        if secret_re is not None:
            text = secret_re.sub(MASK, text)
        if fragments:
            text = _FRAGMENT_RUN.sub(lambda m: _mask_fragment(m, fragments), text)
        for rule in rules:
            if rule.markup_safe or not markup_only:
                text = rule.apply(text)
        if not markup_only and "PRIVATE KEY-----" in text:
            text = _mask_pem_tails(text)
        return text
