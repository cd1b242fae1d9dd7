"""The VAPID key pair (RFC 8292) that signs every Web Push: read from the settings, or generated
once into the data folder. A browser subscribes with the public key (its applicationServerKey)
and its push service then accepts only pushes signed by the matching private key."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_FILE = "vapid_private.pem"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """base64url without padding (as browsers write keys); ValueError when it is not that."""
    cleaned = text.strip()
    if not cleaned or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in cleaned
    ):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(cleaned.rstrip("=") + "=" * (-len(cleaned.rstrip("=")) % 4))


def public_point(key: ec.EllipticCurvePublicKey) -> str:
    """The public key as Web Push writes it: base64url of the uncompressed P-256 point."""
    return b64url(key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def parse_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key given as PEM, or as base64url of its raw 32 bytes or of its DER."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        raw = b64url_decode(text)
        if len(raw) == 32:
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
        else:
            key = serialization.load_der_private_key(raw, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("is not a P-256 (prime256v1) private key")
    return key


@dataclass(frozen=True, slots=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    public_key: str  # base64url uncompressed point: the browsers' applicationServerKey

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def from_settings(private: str, public: str | None) -> VapidKeys:
    """The configured pair; ValueError (for the settings' one-line message) when it is not one."""
    key = parse_private_key(private)
    derived = public_point(key.public_key())
    if public is not None and public.strip().rstrip("=") != derived:
        raise ValueError("HELPLINE_PUSH_VAPID_PUBLIC_KEY is not the public key of HELPLINE_PUSH_VAPID_PRIVATE_KEY")
    return VapidKeys(key, derived)


def _generated(folder: Path) -> VapidKeys:
    """The data folder's pair, made on first use. Written to a temporary file and linked into
    place, so two processes starting at once (server and worker) end up with the same one."""
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".vapid", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(VapidKeys(key, "").private_pem)
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = parse_private_key(path.read_text())
    return VapidKeys(key, public_point(key.public_key()))


@cache
def load(private: str | None, public: str | None, data_dir: Path) -> VapidKeys:
    """The pair in force: the configured one, else the data folder's (generated once)."""
    if private:
        return from_settings(private, public)
    return _generated(data_dir.resolve())
