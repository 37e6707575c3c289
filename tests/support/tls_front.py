#!/usr/bin/env python3
"""An HTTPS front for the end-to-end tests: TLS on 127.0.0.1, plain TCP to the proxy behind it.

    tls_front.py TARGET_PORT DIR [--watch-stdin]

Makes, at start, two throwaway certificate authorities and a server certificate that the first
one signs (for IP 127.0.0.1 and DNS localhost), with the `cryptography` package (a dependency of
moto, so it is in the test venv), and writes into DIR:

  ca.pem         the CA that signed the server certificate: trusting it makes the front work
  other-ca.pem   a CA that signed nothing here: trusting only it must fail
  server.pem     the server's certificate chain (server, then CA); server-key.pem its key

Then it listens with TLS on 127.0.0.1 (a port the OS chooses), prints `PORT <n>` as its first
line of stdout, and relays each connection's bytes, decrypted, to 127.0.0.1:TARGET_PORT (the
iam_proxy.py of the test). Bytes pass unchanged: the Host header that SigV4 signs is the
client's, as with the proxy itself. A client that refuses the certificate just closes its
connection; the front logs nothing about it.

Python 3 stdlib and `cryptography` only.
"""

import argparse
import datetime
import ipaddress
import os
import socket
import ssl
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import relay  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server(ca_key, ca_cert):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make_files(out):
    os.makedirs(out, exist_ok=True)
    ca_key, ca = make_ca("aws-rotate-keys test CA")
    _, other = make_ca("aws-rotate-keys unrelated CA")
    key, server = make_server(ca_key, ca)
    write(os.path.join(out, "ca.pem"), pem(ca))
    write(os.path.join(out, "other-ca.pem"), pem(other))
    write(os.path.join(out, "server.pem"), pem(server) + pem(ca))
    write(
        os.path.join(out, "server-key.pem"),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def serve(conn, context, target_port):
    try:
        conn.settimeout(30)
        tls = context.wrap_socket(conn, server_side=True)
        tls.settimeout(None)
    except (OSError, ssl.SSLError):  # the client refused the certificate, or went away
        conn.close()
        return
    try:
        back = socket.create_connection(("127.0.0.1", target_port), timeout=30)
        back.settimeout(None)
    except OSError:
        tls.close()
        return
    t = threading.Thread(target=relay.pump, args=(back, tls), daemon=True)
    t.start()
    relay.pump(tls, back)
    t.join()
    tls.close()
    back.close()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("target_port", type=int)
    p.add_argument("dir")
    p.add_argument("--watch-stdin", action="store_true")
    a = p.parse_args(argv)
    if a.watch_stdin:
        relay.exit_with_parent()
    make_files(a.dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(a.dir, "server.pem"), os.path.join(a.dir, "server-key.pem"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, context, a.target_port), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
