"""Make the compose stack's nginx front: a self-signed certificate for development, and
deploy/nginx/helpline.conf rendered for it (site name, certificate paths, the app containers as
the upstream). compose.yaml runs it in an init container (`tls-init`) from the Helpline image
before nginx starts; tests/deploy/test_compose.py runs it here and checks the result with
`nginx -t`. The private key is made where it is used and never committed: for production, mount a
real certificate instead (deploy/nginx/helpline.conf's paths) and skip this.

    python deploy/compose/devtls.py OUT_DIR [--site localhost] [--upstream app1:8000 ...]
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "nginx" / "helpline.conf"
TEMPLATE_SITE = "help.example.com"
DAYS = 30


def make_certificate(cert: Path, key: Path, site: str) -> bool:
    """Write a self-signed certificate for ``site`` (and localhost, 127.0.0.1); False if a valid one
    for the same site is already there (a restart keeps the one the browser was told to trust)."""
    if cert.exists() and key.exists():
        current = x509.load_pem_x509_certificate(cert.read_bytes())
        names = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        still_valid = current.not_valid_after_utc > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        if still_valid and site in names.get_values_for_type(x509.DNSName):
            return False
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, site)])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(site), x509.DNSName("localhost")]
    alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(alt))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.parent.mkdir(parents=True, exist_ok=True)
    key.touch(mode=0o600)
    key.chmod(0o600)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


def render(template: str, *, site: str, cert: str, key: str, upstreams: list[str]) -> str:
    """deploy/nginx/helpline.conf with this stack's names: the one file stays the source."""
    text = template.replace(f"/etc/letsencrypt/live/{TEMPLATE_SITE}/fullchain.pem", cert)
    text = text.replace(f"/etc/letsencrypt/live/{TEMPLATE_SITE}/privkey.pem", key)
    text = text.replace(TEMPLATE_SITE, site)
    # A container may have no IPv6: listen on IPv4 only.
    text = re.sub(r"^\s*listen \[::\]:.*\n", "", text, flags=re.M)
    servers = "".join(f"    server {u} max_fails=3 fail_timeout=10s;\n" for u in upstreams)
    text, count = re.subn(r"^\s*server 127\.0\.0\.1:8000 [^\n]*\n(\s*# server [^\n]*\n)?", servers, text, flags=re.M)
    if count != 1:
        raise SystemExit(f"{TEMPLATE}: its upstream block changed; update devtls.py")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder nginx mounts as /etc/nginx/conf.d")
    parser.add_argument("--site", default="localhost", help="the host name the browser uses")
    parser.add_argument("--upstream", action="append", help="host:port of an app instance (repeat)")
    parser.add_argument("--nginx-dir", default="/etc/nginx/conf.d", help="where nginx sees OUT")
    args = parser.parse_args()
    upstreams = args.upstream or ["app1:8000", "app2:8000"]
    created = make_certificate(args.out / "tls" / "cert.pem", args.out / "tls" / "key.pem", args.site)
    conf = render(
        TEMPLATE.read_text(),
        site=args.site,
        cert=f"{args.nginx_dir}/tls/cert.pem",
        key=f"{args.nginx_dir}/tls/key.pem",
        upstreams=upstreams,
    )
    # default.conf replaces the image's own (which would claim port 80 too).
    (args.out / "default.conf").write_text(conf)
    print(f"{'made' if created else 'kept'} a self-signed certificate for {args.site}; nginx config for {upstreams}")


if __name__ == "__main__":
    main()
