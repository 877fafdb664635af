# SPDX-License-Identifier: BSD-3-Clause
"""The TCP listener with TLS (--tls-cert/--tls-key): HTTPS with the bearer
token works, a wrong or missing token is 401, plain HTTP gets no answer.
The certificate is made here with openssl; Python's ssl module is the
client that checks it."""
import http.client
import json
import shutil
import ssl
import subprocess

import pytest

from sluiced_util import sluiced  # noqa: F401 (the fixture)


@pytest.fixture
def tls_files(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl not found (Debian package openssl)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


def https_get(port, cert, path, token):
    ctx = ssl.create_default_context(cafile=cert)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_tls_listener_serves_https_with_the_token_only(sluiced, tls_files):
    cert, key = tls_files
    sd = sluiced(listen=True, args=["--tls-cert", cert, "--tls-key", key])
    status, body = https_get(sd.port, cert, "/v1/status", sd.token)
    assert status == 200, body
    assert json.loads(body)["generation"] == 0
    status, body = https_get(sd.port, cert, "/v1/status", "wrong-token-0123456789")
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    status, _ = https_get(sd.port, cert, "/v1/status", None)
    assert status == 401
    # Plain HTTP on the TLS port is not answered as HTTP.
    plain = http.client.HTTPConnection("127.0.0.1", sd.port, timeout=3)
    with pytest.raises((http.client.HTTPException, OSError)):
        plain.request("GET", "/v1/status",
                      headers={"Authorization": f"Bearer {sd.token}"})
        plain.getresponse().read()


def test_tls_options_are_checked(sluiced, tls_files):
    cert, key = tls_files
    sd = sluiced(start=False, args=["--tls-cert", cert])
    r = subprocess.run(sd.argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--tls-key" in r.stderr
    sd = sluiced(start=False, listen=True,
                 args=["--tls-cert", "/nonexistent.pem", "--tls-key", key])
    r = subprocess.run(sd.argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "/nonexistent.pem" in r.stderr
