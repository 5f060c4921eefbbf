"""An `amqps://` broker URL: the broker's certificate must chain to a trusted CA *and* name the
host of the URL. Checked against a TLS server on loopback with certificates of the test's own
(trusted through SSL_CERT_FILE, as a CA bundle in a container would be)."""

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service_kit.events.broker import connect


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_pem(path: Path, *pems: bytes) -> Path:
    path.write_bytes(b"".join(pems))
    return path


@dataclass
class TlsServer:
    """Accepts TLS connections on loopback, counts completed handshakes, then hangs up (it speaks
    no AMQP: only the handshake matters here)."""

    certificate: Path
    key: Path
    handshakes: int = 0
    port: int = 0
    _socket: socket.socket = field(default_factory=socket.socket)

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self.port = self._socket.getsockname()[1]

        def serve() -> None:
            while True:
                try:
                    client, _ = self._socket.accept()
                except OSError:
                    return
                with client:
                    try:
                        with context.wrap_socket(client, server_side=True):
                            self.handshakes += 1
                    except (ssl.SSLError, OSError):
                        pass

        threading.Thread(target=serve, daemon=True).start()

    def stop(self) -> None:
        self._socket.close()


def _certificates(tmp_path: Path, *, server_names: list[x509.GeneralName]) -> tuple[Path, Path]:
    """A CA (written to ca.pem) and a server certificate for `server_names`, signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test broker CA"))
        .issuer_name(_name("test broker CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("broker"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(server_names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_pem(tmp_path / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    certificate = _write_pem(
        tmp_path / "server.pem", server.public_bytes(serialization.Encoding.PEM)
    )
    key = _write_pem(
        tmp_path / "server.key",
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return certificate, key


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test CA is the only one the process trusts (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    return tmp_path


@pytest.fixture
def servers() -> Iterator[list[TlsServer]]:
    started: list[TlsServer] = []
    yield started
    for server in started:
        server.stop()


def start_server(servers: list[TlsServer], certificate: Path, key: Path) -> TlsServer:
    server = TlsServer(certificate, key)
    server.start()
    servers.append(server)
    return server


def _try_connect(port: int) -> BaseException:
    connection = connect(f"amqps://events:secret@127.0.0.1:{port}/identity-items")
    try:
        connection.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001 - the test inspects whatever the client raised
        return exc
    finally:
        connection.release()
    raise AssertionError("connected to a server that speaks no AMQP")


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def test_amqps_refuses_a_trusted_certificate_for_another_host(
    trusted_ca: Path, servers: list[TlsServer]
) -> None:
    certificate, key = _certificates(
        trusted_ca, server_names=[x509.DNSName("other-broker.example")]
    )
    server = start_server(servers, certificate, key)

    error = _try_connect(server.port)

    verification = [e for e in _causes(error) if isinstance(e, ssl.SSLCertVerificationError)]
    assert verification, f"no certificate error: {error!r}"
    assert "mismatch" in str(verification[0])
    assert server.handshakes == 0


def test_amqps_completes_the_handshake_with_a_certificate_for_the_host(
    trusted_ca: Path, servers: list[TlsServer]
) -> None:
    certificate, key = _certificates(
        trusted_ca, server_names=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    server = start_server(servers, certificate, key)

    error = _try_connect(server.port)

    assert not any(isinstance(e, ssl.SSLCertVerificationError) for e in _causes(error)), error
    assert server.handshakes >= 1
