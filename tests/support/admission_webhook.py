"""A real validating admission webhook, as a program of its own.

``python tests/support/admission_webhook.py DIR`` makes a CA and a serving certificate for
127.0.0.1 (``DIR/ca.crt`` is what a ValidatingWebhookConfiguration's ``caBundle`` holds), listens
with HTTPS on 127.0.0.1 (a free port, printed on the first line of stdout), and answers every
AdmissionReview: objects whose name starts with ``denied-`` are refused with code 403 and the
message ``names starting with denied- are not allowed``, everything else is allowed. Every
review it receives is appended to ``DIR/reviews.log`` as ``<operation> <name> dryRun=<bool>``.
It runs until killed.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pytest_incluster.local.pki import new_ca

DENIED_PREFIX = "denied-"
DENIAL = "names starting with denied- are not allowed"


def _serving_pair(directory: Path) -> tuple[Path, Path]:
    """Write ca.crt, tls.crt and tls.key (a 127.0.0.1 certificate the new CA signed)."""
    ca_key, ca_cert = new_ca("admission-webhook-test-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    (directory / "tls.crt").write_bytes(cert.public_bytes(pem))
    (directory / "tls.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return directory / "tls.crt", directory / "tls.key"


def _handler(log: Path) -> type[BaseHTTPRequestHandler]:
    class Review(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            request = review["request"]
            name = (request.get("object") or {}).get("metadata", {}).get("name", "")
            with log.open("a") as out:
                out.write(f"{request['operation']} {name} dryRun={request.get('dryRun')}\n")
            response: dict[str, object] = {"uid": request["uid"], "allowed": True}
            if name.startswith(DENIED_PREFIX):
                response = {
                    "uid": request["uid"],
                    "allowed": False,
                    "status": {"code": 403, "reason": "Forbidden", "message": DENIAL},
                }
            body = json.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "response": response,
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Review


def main() -> None:
    directory = Path(sys.argv[1])
    cert, key = _serving_pair(directory)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(directory / "reviews.log"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
