"""The API server's TLS: a cluster CA and a serving certificate, made on first start and kept in the data
directory, as kubeadm makes them for kube-apiserver.

TLS is not optional here: kubectl (client-go's clientcmd) sends a kubeconfig's credentials only over https, so a
token-authenticated API has to be served over TLS for kubectl to use it at all.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVING_DAYS = 365
RENEW_DAYS = 30
# The names kube-apiserver's serving certificate carries in a kubeadm cluster, and loopback's.
DEFAULT_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local", "127.0.0.1", "::1", "10.96.0.1")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


class Certificates:
    def __init__(self, directory: Path, names: list[str]) -> None:
        self.ca_path = directory / "ca.crt"
        self.ca_key_path = directory / "ca.key"
        self.cert_path = directory / "apiserver.crt"
        self.key_path = directory / "apiserver.key"
        self.names = list(dict.fromkeys([*DEFAULT_NAMES, *(n for n in names if n and n not in ("0.0.0.0", "::"))]))
        self._ensure()

    @property
    def ca_pem(self) -> bytes:
        return self.ca_path.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def _ensure(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        if not (self.ca_path.exists() and self.ca_key_path.exists()):
            self._make_ca(now)
        ca = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
        if self._serving_is_current(ca, now):
            return
        ca_key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
                .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=SERVING_DAYS))
                .add_extension(_san(self.names), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write_private(self.key_path, _key_pem(key))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def _make_ca(self, now: datetime.datetime) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devcluster-ca")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        _write_private(self.ca_key_path, _key_pem(key))
        self.ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.cert_path.unlink(missing_ok=True)

    def _serving_is_current(self, ca: x509.Certificate, now: datetime.datetime) -> bool:
        if not (self.cert_path.exists() and self.key_path.exists()):
            return False
        cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        if cert.issuer != ca.subject or cert.not_valid_after_utc - now < datetime.timedelta(days=RENEW_DAYS):
            return False
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return False
        return names == _san(self.names)
