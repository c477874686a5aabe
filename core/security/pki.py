"""The station's OPC UA certificates: its own application certificate, and the trust list of clients.

    <app folder>/pki/own/cert.der     the station's certificate (made on first start, 5 years)
    <app folder>/pki/own/key.pem      its private key, readable by the owner only (0600)
    <app folder>/pki/trusted/         client certificates the station accepts
    <app folder>/pki/rejected/        certificates of clients that were refused, for an administrator
                                      to trust (``sdgas certs trust``, or the GUI)

The certificate is made with asyncua's own helpers and checked with its ``CertificateValidator`` and
``TrustStore`` (the ``cryptography`` package underneath); nothing here does cryptography by hand.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from core.util.io import atomic_write_bytes
from core.util.paths import app_dir

APP_URI = "urn:sdgasnet:inspector:station"
VALID_DAYS = 5 * 365
_CERT_EXT = (".der", ".pem", ".crt", ".cer")


@dataclass(frozen=True)
class CertInfo:
    thumbprint: str        # SHA-1 of the DER bytes, hex, as OPC UA tools show it
    subject: str
    application_uri: str
    not_after: str
    path: Path
    state: str             # own | trusted | rejected

    def line(self) -> str:
        return f"{self.state:<8} {self.thumbprint[:16]}  {self.subject:<40} {self.application_uri}  until {self.not_after}"


def _load(data: bytes):
    from cryptography import x509

    return x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----") \
        else x509.load_der_x509_certificate(data)


def _der(cert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)


def thumbprint(cert) -> str:
    return hashlib.sha1(_der(cert)).hexdigest()    # noqa: S324 - the OPC UA thumbprint is SHA-1 by definition


def describe(cert, path: Path, state: str) -> CertInfo:
    from cryptography import x509

    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    return CertInfo(thumbprint(cert), cert.subject.rfc4514_string(), uris[0] if uris else "",
                    cert.not_valid_after_utc.date().isoformat(), path, state)


class Pki:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else app_dir() / "pki"
        self.own, self.trusted, self.rejected = self.root / "own", self.root / "trusted", self.root / "rejected"
        self.cert_file, self.key_file = self.own / "cert.der", self.own / "key.pem"

    # ------------------------------------------------------------------------ the station's own
    def ensure_own(self, hosts: list[str] | None = None) -> tuple[Path, Path]:
        """The station's certificate and key, made on first use (the key 0600); a certificate within 30
        days of its end is made again with the same key (the PLC must then trust the new one)."""
        from asyncua.crypto import cert_gen
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from cryptography.x509.oid import ExtendedKeyUsageOID

        for d in (self.own, self.trusted, self.rejected):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.own, 0o700)
        hosts = sorted({socket.gethostname(), "localhost", *_own_addresses(), *(hosts or [])} - {"", "0.0.0.0", "::"})
        if self.key_file.is_file():
            key = load_pem_private_key(self.key_file.read_bytes(), None)
            if self.key_file.stat().st_mode & 0o077:
                os.chmod(self.key_file, 0o600)
        else:
            key = cert_gen.generate_private_key()
            atomic_write_bytes(self.key_file, cert_gen.dump_private_key_as_pem(key), mode=0o600)
            self.cert_file.unlink(missing_ok=True)
        if self.cert_file.is_file():      # kept while valid: a new one would have to be trusted again by the PLC
            cert = _load(self.cert_file.read_bytes())
            if cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30):
                return self.cert_file, self.key_file
        alt: list = [x509.UniformResourceIdentifier(APP_URI)]
        for h in hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        cert = cert_gen.generate_self_signed_app_certificate(
            key, "SD-GASNet Inspector", {"organizationName": "SD-GASNet Inspector"}, alt,
            extended=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], days=VALID_DAYS)
        atomic_write_bytes(self.cert_file, _der(cert), mode=0o644)
        return self.cert_file, self.key_file

    # ------------------------------------------------------------------------------ trust list
    def _folder(self, state: str) -> Path:
        return {"trusted": self.trusted, "rejected": self.rejected}[state]

    def list(self) -> list[CertInfo]:
        out = []
        if self.cert_file.is_file():
            out.append(describe(_load(self.cert_file.read_bytes()), self.cert_file, "own"))
        for state in ("trusted", "rejected"):
            folder = self._folder(state)
            for p in sorted(folder.glob("*")) if folder.is_dir() else ():
                if p.suffix.lower() in _CERT_EXT:
                    try:
                        out.append(describe(_load(p.read_bytes()), p, state))
                    except ValueError:
                        continue              # not a certificate: left alone
        return out

    def find(self, key: str) -> CertInfo:
        """A certificate by the start of its thumbprint (at least 6 characters), or ``own``."""
        key = key.lower().replace(":", "")
        if key in ("own", "station"):
            return next(c for c in self.list() if c.state == "own")
        hits = [c for c in self.list() if c.thumbprint.startswith(key)] if len(key) >= 6 else []
        if len(hits) != 1:
            raise ValueError(f"'{key}': {'no' if not hits else 'more than one'} certificate with that thumbprint "
                             "(sdgas certs list shows them; give at least 6 characters)")
        return hits[0]

    def move(self, key: str, state: str) -> CertInfo:
        """Trust (``state="trusted"``) or reject a certificate of the lists; returns where it is now."""
        c = self.find(key)
        if c.state == "own":
            raise ValueError("that is the station's own certificate")
        if c.state == state:
            return c
        dest = self._folder(state) / c.path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(c.path), dest)
        return describe(_load(dest.read_bytes()), dest, state)

    def add_trusted(self, path: str | Path) -> CertInfo:
        """Trust a client's certificate file (PEM or DER), e.g. the one exported from a PLC."""
        try:
            cert = _load(Path(path).read_bytes())
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: not a certificate ({e})") from None
        dest = self.trusted / f"{_safe_name(cert)}_{thumbprint(cert)[:16]}.der"
        atomic_write_bytes(dest, _der(cert), mode=0o644)
        return describe(cert, dest, "trusted")

    def keep_rejected(self, cert) -> Path:
        dest = self.rejected / f"{_safe_name(cert)}_{thumbprint(cert)[:16]}.der"
        if not dest.exists() and not any(c.thumbprint == thumbprint(cert) for c in self.list() if c.state == "trusted"):
            atomic_write_bytes(dest, _der(cert), mode=0o644)
        return dest

    def validator(self, on_reject=None):
        """An asyncua certificate validator over the trust list, read afresh for each client (a
        certificate trusted while the station runs is taken at the client's next try). A refused
        certificate is kept in ``rejected/`` and ``on_reject(info)`` is told."""
        from asyncua.common.utils import ServiceError
        from asyncua.crypto.truststore import TrustStore
        from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions as Opt

        pki = self

        async def validate(cert, app_description):
            from asyncua import ua

            try:
                if not any(p.suffix.lower() in _CERT_EXT for p in pki.trusted.glob("*")):
                    raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)    # an empty trust list
                store = TrustStore([pki.trusted], [])
                await store.load()
                v = CertificateValidator(Opt.TIME_RANGE | Opt.URI | Opt.TRUSTED | Opt.PEER_CLIENT, store)
                await v.validate(cert, app_description)
            except ServiceError:
                path = pki.keep_rejected(cert)
                if on_reject is not None:
                    on_reject(describe(cert, path, "rejected"))
                raise

        return validate


def _own_addresses() -> set[str]:
    """This PC's addresses by its name: a PLC that connects by address finds it in the certificate."""
    try:
        return set(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        return set()


def _safe_name(cert) -> str:
    from cryptography.x509.oid import NameOID

    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(cn[0].value) if cn else "client"
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:40] or "client"
