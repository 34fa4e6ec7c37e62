"""The redactor: secrets, their encodings, built-in and user patterns, markup-safe sweeping."""

from __future__ import annotations

import base64
import html
import json
import re
import threading

import pytest

from pytest_incluster.report.redact import MASK, Redactor

# A JWT-shaped value (header {"alg":"RS256","kid":"k"}, a payload, a signature); built here,
# not a real credential.
JWT = (
    base64.urlsafe_b64encode(b'{"alg":"RS256","kid":"k"}').decode().rstrip("=")
    + "."
    + base64.urlsafe_b64encode(b'{"sub":"system:serviceaccount:ns:runner"}').decode().rstrip("=")
    + ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)
OPAQUE = "k8s-static-7f3a9c2e41d8b6a0"  # a non-JWT token, only known via add_secret


def test_added_secret_is_masked_everywhere_it_appears() -> None:
    r = Redactor()
    r.add_secret(OPAQUE)
    assert r.redact(f"a {OPAQUE} b {OPAQUE}") == f"a {MASK} b {MASK}"
    assert r.redact(f"x{OPAQUE}y") == f"x{MASK}y"


def test_secret_is_masked_in_its_base64_forms_as_in_a_secret_data_map() -> None:
    r = Redactor()
    r.add_secret(OPAQUE)
    encoded = base64.b64encode(OPAQUE.encode()).decode()
    assert encoded not in r.redact(f'data: {{"token": "{encoded}"}}')
    assert r.redact(f"value={encoded}") == f"value={MASK}"


def test_surrounding_whitespace_of_a_token_file_is_ignored() -> None:
    r = Redactor()
    r.add_secret(f"  {OPAQUE}\n")
    assert r.redact(OPAQUE) == MASK


def test_short_values_are_not_secrets_because_they_would_mangle_text() -> None:
    r = Redactor()
    r.add_secret("abc")
    r.add_secret("")
    assert r.redact("abc abcabc") == "abc abcabc"


def test_longer_secret_wins_over_a_secret_it_contains() -> None:
    r = Redactor()
    r.add_secret("abcdefgh")
    r.add_secret("abcdefgh-and-more")
    assert r.redact("abcdefgh-and-more") == MASK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token = '{JWT}'", f"token = '{MASK}'"),
        (f"Authorization: Bearer {OPAQUE}", f"Authorization: Bearer {MASK}"),
        (f"(b'authorization', b'bearer {OPAQUE}')", f"(b'authorization', b'bearer {MASK}')"),
        (f"curl -H 'Authorization: Basic {OPAQUE}'", f"curl -H 'Authorization: Basic {MASK}'"),
        (
            '{"status": {"token": "opaque-value-1", "expirationTimestamp": "x"}}',
            f'{{"status": {{"token": "{MASK}", "expirationTimestamp": "x"}}}}',
        ),
        ("password: hunter2hunter2", f"password: {MASK}"),
        ("export TOKEN=abc123def", f"export TOKEN={MASK}"),
        ("Config(token='abc123def')", f"Config(token='{MASK}')"),
        ("GET /x?access_token=abc123&y=1", f"GET /x?access_token={MASK}&y=1"),
        (f"jwt in prose {JWT}.", f"jwt in prose {MASK}."),
    ],
)
def test_builtin_patterns_mask_secrets_never_registered(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_base64_of_a_jwt_is_masked_as_in_a_secret_data_value() -> None:
    encoded = base64.b64encode(JWT.encode()).decode()
    assert Redactor().redact(f'"data": {{"token": "{encoded}"}}').count(MASK) == 1
    assert encoded not in Redactor().redact(f"  ca.crt: xx\n  kubeconfig: {encoded}\n")


@pytest.mark.parametrize(
    "text",
    [
        "token_file = PosixPath('/var/run/secrets/kubernetes.io/serviceaccount/token')",
        "bearer tokens are rotated hourly",
        "test_password_rotation PASSED",
        "eyJust a word",
        "Secret('***')",
        "    token = read_token(path)",
        '>       assert token == "expected"',
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().redact(text) == text


def test_user_pattern_masks_whole_match_or_only_the_secret_group() -> None:
    r = Redactor()
    r.add_pattern(r"sk-[A-Za-z0-9]{8}")
    r.add_pattern(re.compile(r"x-api-key: (?P<secret>\S+)", re.IGNORECASE))
    assert r.redact("key sk-ABCdef12 and X-Api-Key: s3cr3t!") == f"key {MASK} and X-Api-Key: {MASK}"


def test_adding_the_same_pattern_twice_is_harmless() -> None:
    r = Redactor()
    r.add_pattern("foo[0-9]+")
    r.add_pattern("foo[0-9]+")
    r.add_pattern(re.compile("foo[0-9]+"))
    assert r.redact("foo12") == MASK


def test_pattern_that_matches_empty_text_does_not_sprinkle_masks() -> None:
    r = Redactor()
    r.add_pattern(r"x*")
    assert r.redact("abc") == "abc"


def test_redaction_is_idempotent() -> None:
    r = Redactor()
    r.add_secret(OPAQUE)
    text = f'{{"token": "{OPAQUE}", "auth": "Bearer {JWT}"}}'
    once = r.redact(text)
    assert r.redact(once) == once


def test_markup_sweep_keeps_html_and_embedded_json_valid() -> None:
    # What pytest-html writes: JSON inside an attribute, quotes as entities. The broad
    # token-field pattern must not run here (it could swallow an entity); token-alphabet rules do.
    r = Redactor()
    r.add_secret(OPAQUE)
    payload = {"log": f"token: abc&def\nsaw {OPAQUE} and {JWT}", "next": "kept"}
    page = f'<div data-jsonblob="{html.escape(json.dumps(payload))}"></div>'
    swept = r.redact_markup(page)
    start = swept.index('"') + 1
    decoded = json.loads(html.unescape(swept[start : swept.rindex('"')]))
    assert decoded["next"] == "kept"
    assert OPAQUE not in decoded["log"]
    assert JWT not in decoded["log"]


def test_secrets_added_from_another_thread_apply() -> None:
    r = Redactor()
    values = [f"secret-value-{i:04d}" for i in range(50)]
    threads = [threading.Thread(target=r.add_secret, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.redact(" ".join(values)) == " ".join([MASK] * 50)


def test_pem_private_keys_whole_cut_off_and_base64() -> None:
    redactor = Redactor()
    body = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"
    pem = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    assert redactor.redact(f"key: {pem}") == "key: ***\n"
    # --showlocals keeps a head and a tail of a long value; the tail is still a key.
    assert redactor.redact(f"'...{body[-20:]}\\n-----END PRIVATE KEY-----\\n'") == "'...***\\n'"
    encoded = base64.b64encode(pem.encode()).decode()
    assert redactor.redact(f"client-key-data: {encoded}") == "client-key-data: ***"


def test_a_piece_of_a_known_secret_is_masked() -> None:
    redactor = Redactor()
    token = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
    redactor.add_secret(token)
    assert redactor.redact(f"token tail ...{token[-20:]}") == "token tail ***"
    assert redactor.redact("an unrelated identifier_0123456789abcdef") == (
        "an unrelated identifier_0123456789abcdef"
    )
