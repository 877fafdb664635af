# SPDX-License-Identifier: BSD-3-Clause
"""sluiced under test: a process in a temporary directory, and a client of
its HTTP/JSON API (docs/api.md) over the unix socket or TCP.

    def test_something(sluiced):
        sd = sluiced()                       # started, /v1/status answers
        r = sd.client().put("/v1/config", POLICY)
        assert r.status == 200, r
        assert r.json["generation"] == 1
        sd.stop()                            # SIGTERM, SIGKILL after 5 s

The binary is $SLUICE_BUILD/sluiced (lab.build_dir(): $SLUICE_BUILD, else
build/ in the repository), as for sluice-dataplane; a missing binary is a
failure, not a skip.  sluiced needs no root and no dataplane for most of the
API (stats, trace and capture answer 503 without one).

Each daemon gets a directory of its own under /tmp with a short name (a
unix socket path has at most 107 bytes, and pytest's tmp_path can be
longer): state/, api.sock, dp.sock and sluiced.log.  It is removed after
the test; the log is printed when the test failed.

Only the Debian python's standard library: http.client over AF_UNIX.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import lab

# Error codes of docs/api.md, by status.
ERROR_CODES = {
    400: {"bad_json", "bad_request"},
    401: {"unauthorized"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    409: {"conflict", "exists", "not_clustered", "busy"},
    411: {"length_required"},
    413: {"too_large"},
    415: {"unsupported_media_type"},
    422: {"invalid"},
    429: {"rate_limited"},
    503: {"dataplane_unavailable", "dataplane_error", "out_of_memory",
          "etcd_unavailable"},
    504: {"timeout"},
    507: {"state_not_saved"},
}


def sluiced_binary():
    return os.path.join(lab.build_dir(), "sluiced")


# --- client -----------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class Response:
    """status, headers (lower-case names), body (bytes), json (or None)."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.json = None
        ctype = headers.get("content-type", "")
        if ctype.startswith("application/json") and body:
            try:
                self.json = json.loads(body)
            except ValueError:
                self.json = None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def error(self):
        """The error object of an error reply, or None."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"]
        return None

    def __repr__(self):
        text = self.body[:600].decode("utf-8", "replace")
        return f"<HTTP {self.status} {self.reason} {self.headers} {text!r}>"


class Client:
    """A client of the API.  Keeps one connection open and reuses it.

    Client(unix="/path/api.sock") or Client(tcp=("127.0.0.1", 8470),
    token="..."); every call returns a Response.  body: a dict or list
    (sent as JSON), str or bytes (sent as they are) or None.
    """

    def __init__(self, unix=None, tcp=None, token=None, timeout=10):
        assert (unix is None) != (tcp is None)
        self.unix = unix
        self.tcp = tcp
        self.token = token
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        if self.unix is not None:
            return UnixHTTPConnection(self.unix, timeout=self.timeout)
        return http.client.HTTPConnection(self.tcp[0], self.tcp[1], timeout=self.timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None,
                content_type="application/json"):
        hdrs = {}
        if self.token is not None:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if body is not None and content_type is not None:
            hdrs["Content-Type"] = content_type
        if method in ("PUT", "POST") and body is None:
            hdrs["Content-Length"] = "0"
        hdrs.update(headers or {})
        for attempt in (0, 1):
            reused = self.conn is not None and self.conn.sock is not None
            if self.conn is None:
                self.conn = self._connect()
            try:
                try:
                    self.conn.request(method, path, body=body, headers=hdrs)
                except (BrokenPipeError, ConnectionResetError):
                    # The server answered before the body was all sent (413,
                    # 415, 411, 401, 429 come before it is read) and closed:
                    # its reply may be there to read.
                    if self.conn.sock is None:
                        raise
                r = self.conn.getresponse()
                data = r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                # A kept-alive connection the server closed meanwhile
                # (it closes after an error that came before the body):
                # the request never reached it, so sending it again is safe.
                self.close()
                if attempt == 0 and reused:
                    continue
                raise
            except Exception:
                self.close()
                raise
            hs = {k.lower(): v for k, v in r.getheaders()}
            if r.will_close:
                self.close()
            return Response(r.status, r.reason, hs, data)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def generation(self):
        r = self.get("/v1/status")
        assert r.status == 200, r
        return r.json["generation"]


# --- raw requests --------------------------------------------------------------

def raw_exchange(path, data, timeout=5.0, half_close=True, tcp=None):
    """Send data as it is on a new connection and read the reply.

    Returns (status, Response) when an HTTP reply came, or (None, reason)
    when the server closed the connection without one; raises
    socket.timeout when it neither answered nor closed within timeout (a
    hang).  half_close: shut the sending side down after data, so a server
    waiting for more sees the end.
    """
    fam = socket.AF_INET if tcp else socket.AF_UNIX
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(tcp if tcp else path)
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass    # refused early; the reply may still be there to read
        r = http.client.HTTPResponse(s)
        try:
            r.begin()
        except http.client.RemoteDisconnected:
            return None, "closed"
        except ConnectionResetError:
            return None, "reset"
        body = r.read()
        hs = {k.lower(): v for k, v in r.getheaders()}
        return r.status, Response(r.status, r.reason, hs, body)
    finally:
        s.close()


# --- the daemon -------------------------------------------------------------

class Sluiced:
    """One sluiced process in a directory of its own.

    sd = Sluiced(config=path, args=["--max-body", "4096"]); sd.start()
    sd.client(), sd.tcp_client(token), sd.state_text(), sd.rss_kib(),
    sd.hup(), sd.stop() -> exit code, sd.output
    """

    def __init__(self, workdir=None, config=None, args=(), listen=False,
                 token=None, binary=None):
        self.binary = binary or sluiced_binary()
        self.own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="sld-", dir="/tmp")
        self.state_dir = os.path.join(self.workdir, "state")
        self.state_path = os.path.join(self.state_dir, "state.json")
        self.api_sock = os.path.join(self.workdir, "api.sock")
        self.dp_sock = os.path.join(self.workdir, "dp.sock")
        self.log_path = os.path.join(self.workdir, "sluiced.log")
        self.config = config
        self.args = list(args)
        self.token = token
        self.port = None
        if listen:
            self.port = free_tcp_port()
            if self.token is None:
                self.token = "t0ken-" + os.urandom(12).hex()
            self.token_file = os.path.join(self.workdir, "token")
            with open(self.token_file, "w") as f:
                f.write(self.token + "\n")
        self.proc = None
        self.returncode = None
        self._log = None
        self._clients = []

    @property
    def argv(self):
        a = [self.binary, "--state-dir", self.state_dir, "--api-socket",
             self.api_sock, "--dp-socket", self.dp_sock]
        if self.config:
            a += ["--config", self.config]
        if self.port:
            a += ["--listen", f"127.0.0.1:{self.port}", "--token-file",
                  self.token_file]
        return a + self.args

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def output(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, wait=True, timeout=10):
        if not os.access(self.binary, os.X_OK):
            pytest.fail(f"{self.binary} not found: build it (ninja -C BUILD sluiced) "
                        "or set SLUICE_BUILD", pytrace=False)
        self._log = open(self.log_path, "a")
        self.returncode = None
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10):
        """Until GET /v1/status answers 200 on the unix socket."""
        deadline = time.monotonic() + timeout
        c = Client(unix=self.api_sock, timeout=2)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    self.returncode = self.proc.returncode
                    raise RuntimeError(f"sluiced exited with {self.returncode} "
                                       f"before it was ready:\n{self.output}")
                try:
                    if c.get("/v1/status").status == 200:
                        return self
                except OSError:
                    pass
                c.close()
                time.sleep(0.02)
        finally:
            c.close()
        raise TimeoutError(f"sluiced not ready after {timeout} s:\n{self.output}")

    def wait_exit(self, timeout=10):
        """For a start that must fail: its exit code."""
        try:
            self.returncode = self.proc.wait(timeout)
        finally:
            self._close_log()
        return self.returncode

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout=10):
        c = Client(unix=self.api_sock, timeout=timeout)
        self._clients.append(c)
        return c

    def tcp_client(self, token=None, timeout=10):
        c = Client(tcp=("127.0.0.1", self.port), token=token, timeout=timeout)
        self._clients.append(c)
        return c

    def state_text(self):
        with open(self.state_path, "rb") as f:
            return f.read()

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL after timeout s; returns the exit code
        (negative for a signal: -9 means it hung)."""
        for c in self._clients:
            c.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.returncode = self.proc.wait()
        self._close_log()
        return self.returncode

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def remove(self):
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- the fixture ----------------------------------------------------------------
# A test module uses it by importing it (from sluiced_util import sluiced),
# or, keeping linters quiet, by declaring it with
#
#     @pytest.fixture
#     def sluiced(request):
#         yield from sluiced_util.sluiced_factory(request)

def sluiced_factory(request):
    """Yields a factory: sluiced(config=None, args=(), listen=False,
    start=True, workdir=None, token=None) -> Sluiced, started and answering
    unless start=False.  Every one is stopped after the test (its log
    printed if the test failed) and its directory removed."""
    made = []

    def make(config=None, args=(), listen=False, start=True, workdir=None, **kw):
        sd = Sluiced(workdir=workdir, config=config, args=args, listen=listen, **kw)
        made.append(sd)
        if start:
            sd.start()
        return sd

    yield make
    rep = getattr(request.node, "rep_call", None)
    failed = rep is not None and rep.failed
    for sd in made:
        sd.stop()
        if failed:
            print(f"--- {' '.join(sd.argv)}\n--- exit {sd.returncode}\n{sd.output}")
    for sd in made:
        sd.remove()


@pytest.fixture
def sluiced(request):
    """Factory of started sluiced processes: see sluiced_factory()."""
    yield from sluiced_factory(request)


def check_error(r, status, code=None, field=None):
    """r is an error reply of docs/api.md: status, the error object with a
    documented code (code when given) and field (when given)."""
    assert r.status == status, r
    err = r.error
    assert err is not None, f"no error object: {r}"
    assert isinstance(err.get("code"), str) and isinstance(err.get("message"), str), r
    assert err["message"], r
    assert err["code"] in ERROR_CODES.get(status, set()), \
        f"code {err['code']!r} is not documented for {status}: {r}"
    if code is not None:
        assert err["code"] == code, r
    if field is not None:
        assert err.get("field") == field, r
    return err
