"""A new client certificate from the exec plugin means new connections (a new transport)."""

from __future__ import annotations

import httpx

from pytest_incluster.client.cert_rotation import CertificateRotation
from pytest_incluster.config.exec_spec import API_V1, ExecPlugin
from pytest_incluster.credentials.exec_output import ExecCredential
from pytest_incluster.credentials.exec_source import ExecCredentialSource
from pytest_incluster.secret import Secret


class _Answering(httpx.BaseTransport):
    """Answers 200 itself (no server needed: only which transport is used matters here)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"transport": self.number}, request=request)

    def close(self) -> None:
        self.closed = True


def _credential(certificate: bytes | None) -> ExecCredential:
    key = Secret("-----BEGIN PRIVATE KEY-----") if certificate else None
    token = None if certificate else Secret("a-token-from-the-plugin")
    return ExecCredential(token=token, client_certificate=certificate, client_key=key, expires=None)


def _rotation(answers: list[ExecCredential]) -> tuple[CertificateRotation, ExecCredentialSource]:
    plugin = ExecPlugin(api_version=API_V1, command="get-cert", where="kubeconfig k user 'u'")
    source = ExecCredentialSource(plugin, runner=lambda _: answers.pop(0))
    made: list[_Answering] = []

    def make() -> httpx.BaseTransport:
        made.append(_Answering(len(made) + 1))
        return made[-1]

    return CertificateRotation(make, source), source


def _used(rotation: CertificateRotation) -> int:
    with httpx.Client(transport=rotation, base_url="https://api") as client:
        return int(client.get("/version").json()["transport"])


def test_a_new_certificate_uses_a_new_transport() -> None:
    rotation, source = _rotation([_credential(b"cert-1"), _credential(b"cert-2")])
    assert _used(rotation) == 1
    source.renew_after_rejection(source.current())
    assert _used(rotation) == 2


def test_the_same_certificate_or_a_token_keeps_the_transport() -> None:
    rotation, source = _rotation([_credential(None), _credential(None)])
    assert _used(rotation) == 1
    source.renew_after_rejection(source.current())
    assert _used(rotation) == 1
