"""TLS around the edge–cloud link: the frames' HMAC authenticates, TLS also hides prompts and drafts.

Python's standard ``ssl``: TLS 1.2 or newer only; the client checks the server's certificate against the CA
it is given (``sqs edge --tls-ca``) and its host name, as browsers do, unless told another name to expect.
The HMAC of :mod:`sqs.net.frames` stays on top, so a session still needs the shared token: TLS proves the
server to the edge, the token proves the edge to the server. Setting up: docs/network.md.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TLSSetupError(ValueError):
    """A certificate, key or CA file that cannot be used; the message names the file and why."""


def _readable(path: str | Path, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise TLSSetupError(f"{what} {str(p)!r} does not exist (a PEM file)")
    return str(p)


def server_context(cert: str | Path, key: str | Path) -> ssl.SSLContext:
    """The cloud's context: its certificate chain and private key (PEM), TLS 1.2+."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(_readable(cert, "--tls-cert"), _readable(key, "--tls-key"))
    except ssl.SSLError as exc:
        raise TLSSetupError(f"--tls-cert {cert} with --tls-key {key}: {exc.reason or exc} (a PEM certificate and "
                            "its own private key)") from None  # fmt: skip
    return ctx


def client_context(ca: str | Path | None = None) -> ssl.SSLContext:
    """The edge's context: the server's certificate must chain to ``ca`` (PEM; None: the system's CAs), and
    its name must match the one the edge connects to (checked at the handshake)."""
    ctx = ssl.create_default_context(cafile=_readable(ca, "--tls-ca") if ca else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
