"""TLS on the edge–cloud link (`sqs serve --tls-cert/--tls-key`, `sqs edge --tls-ca`): a good session decodes what
plaintext decodes; an untrusted CA, an expired certificate, a wrong host name, a plaintext client and a TLS client
of a plaintext server are refused, each with a reason that says which."""

import datetime as dt
import ipaddress
import json
import ssl
import subprocess

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from net_helpers import BIN, SCHEMES, TOY, in_process, sqs_server, token_of, toy_edge
from sqs.net.client import RemoteCloud
from sqs.net.identity import load_side
from sqs.net.server import ServerConfig
from sqs.net.tls import TLSSetupError, client_context, server_context
from sqs.system.latency import LinkConfig
from sqs.system.session import SessionInterrupted, run_session

NOW = dt.datetime.now(dt.UTC)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str):
    key = _key()
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    return key, cert


def make_leaf(ca, days=(-1, 30)):
    ca_key, ca_cert = ca
    key = _key()
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW + dt.timedelta(days=days[0])).not_valid_after(NOW + dt.timedelta(days=days[1]))
            .add_extension(san, critical=False).sign(ca_key, hashes.SHA256()))  # fmt: skip
    return key, cert


def write_pem(path, key=None, cert=None):
    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())  # fmt: skip
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca, other = make_ca("sqs test CA"), make_ca("another CA")
    good, expired = make_leaf(ca), make_leaf(ca, days=(-30, -1))
    return {
        "ca": write_pem(d / "ca.pem", cert=ca[1]),
        "other_ca": write_pem(d / "other.pem", cert=other[1]),
        "cert": write_pem(d / "cert.pem", cert=good[1]),
        "key": write_pem(d / "key.pem", key=good[0]),
        "expired_cert": write_pem(d / "expired.pem", cert=expired[1]),
        "expired_key": write_pem(d / "expired.key", key=expired[0]),
        "dir": d,
    }


@pytest.fixture(scope="module")
def tls_server(pki):
    token_file = pki["dir"] / "token"
    args = ("--tls-cert", pki["cert"], "--tls-key", pki["key"], "--hello-timeout-s", "2")
    with sqs_server(token_file, *args) as (_, port):
        yield port, token_of(token_file)


def session(port: int, token: bytes, tls, name="k-sqs", params=None, seed=7, host="127.0.0.1", server_name=None):
    params = dict(SCHEMES)[name] if params is None else params
    edge = toy_edge(name, params, [seed, 0])
    cloud = RemoteCloud(f"{host}:{port}", token, load_side(TOY, "edge"), TOY, 1.0, edge.scheme.code, (seed, 0, 1),
                        timeout_s=30, tls=tls, server_name=server_name)  # fmt: skip
    try:
        return run_session(edge, cloud, [1, 2, 3], 20, LinkConfig())
    finally:
        cloud.close()


@pytest.mark.parametrize("name", ["k-sqs", "c-sqs"])
def test_a_tls_session_decodes_what_one_process_and_plaintext_decode(pki, tls_server, tmp_path, name):
    port, token = tls_server
    got = session(port, token, client_context(pki["ca"]), name)
    assert got.tokens == in_process(name, dict(SCHEMES)[name], 7, [1, 2, 3], 20).tokens
    plain_token = tmp_path / "token"
    with sqs_server(plain_token) as (_, plain_port):
        assert session(plain_port, token_of(plain_token), None, name).tokens == got.tokens
    assert len(got.tokens) == 20


def test_a_client_that_trusts_another_ca_is_refused(pki, tls_server):
    port, token = tls_server
    with pytest.raises(SessionInterrupted, match=r"certificate is not trusted for '127.0.0.1': unable to get local"):
        session(port, token, client_context(pki["other_ca"]))


def test_a_wrong_host_name_is_refused(pki, tls_server):
    port, token = tls_server
    with pytest.raises(SessionInterrupted, match=r"not trusted for 'cloud.example': Hostname mismatch"):
        session(port, token, client_context(pki["ca"]), server_name="cloud.example")
    assert len(session(port, token, client_context(pki["ca"]), server_name="localhost").tokens) == 20


def test_a_plaintext_client_of_a_tls_server_is_refused(tls_server):
    port, token = tls_server
    with pytest.raises(SessionInterrupted, match=r"closed the connection before its challenge \(a TLS server\?"):
        session(port, token, None)


def test_a_tls_client_of_a_plaintext_server_is_told_so(pki, tmp_path):
    token_file = tmp_path / "token"
    with sqs_server(token_file) as (_, port):
        with pytest.raises(SessionInterrupted, match=r"TLS handshake failed .*is the cloud serving TLS"):
            session(port, token_of(token_file), client_context(pki["ca"]))


def test_an_expired_certificate_is_refused(pki):
    token_file = pki["dir"] / "token-expired"
    args = ("--tls-cert", pki["expired_cert"], "--tls-key", pki["expired_key"], "--hello-timeout-s", "2")
    with sqs_server(token_file, *args) as (_, port):
        with pytest.raises(SessionInterrupted, match=r"not trusted for '127.0.0.1': certificate has expired"):
            session(port, token_of(token_file), client_context(pki["ca"]))


def test_bad_tls_settings_are_named(pki, tmp_path):
    with pytest.raises(ValueError, match="both tls_cert and tls_key"):
        ServerConfig(tls_cert=pki["cert"])
    with pytest.raises(TLSSetupError, match=r"--tls-key '.*nope.pem' does not exist"):
        server_context(pki["cert"], tmp_path / "nope.pem")
    with pytest.raises(TLSSetupError, match="its own private key"):
        server_context(pki["cert"], pki["expired_key"])  # another certificate's key
    with pytest.raises(TLSSetupError, match="--tls-ca"):
        client_context(tmp_path / "missing-ca.pem")
    ctx = client_context(pki["ca"])
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2 and ctx.check_hostname


def test_sqs_edge_over_tls_prints_what_sqs_decode_prints(pki, tls_server):
    """The command line end to end: `sqs edge --tls-ca` against `sqs serve --tls-cert`, equal to `sqs decode`."""
    port, token = tls_server
    (pki["dir"] / "edge-token").write_bytes(token)
    common = ["--slm", TOY, "--llm", TOY, "--scheme", "k-sqs", "--temperature", "1.0", "--max-new-tokens", "12",
              "--seed", "3", "--prompt", "1 2 3"]  # fmt: skip
    edge = subprocess.run([str(BIN / "sqs"), "edge", *common, "--cloud", f"localhost:{port}", "--tls-ca", pki["ca"],
                           "--token-file", str(pki["dir"] / "edge-token")], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert edge.returncode == 0, edge.stderr
    local = subprocess.run([str(BIN / "sqs"), "decode", *common], capture_output=True, text=True, timeout=120)
    assert local.returncode == 0, local.stderr
    tokens = lambda out: [json.loads(line)["tokens"] for line in out.splitlines() if line.strip()]  # noqa: E731
    assert tokens(edge.stdout) == tokens(local.stdout) and np.size(tokens(edge.stdout)) > 0
