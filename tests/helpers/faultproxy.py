"""A small loopback HTTP proxy that injects storage faults in front of a real S3 server.

Tests point the app at ``proxy.url`` instead of the server's own URL. Every request is
forwarded to the real server unless a rule in the plan matches it; then the proxy does
what the rule says instead:

- ``slowdown``: answer 503 with S3's ``SlowDown`` error;
- ``error500``: answer 500 with ``InternalError``;
- ``error``: answer any status and S3 error code (``status``, ``code``);
- ``reset``: read the request, then reset the connection (TCP RST, no answer);
- ``stall``: read the request and never answer (until the client gives up, the
  stall limit passes or the proxy stops), so the client's read timeout fires;
- ``outage``: refuse every new connection for ``seconds`` and reset open ones,
  starting with the matching request: a network outage;
- ``mangle``: flip one byte of the request body and forward it (the data that reaches
  the server differs from what the client sent);
- ``hook``: call ``rule.hook()`` after the request's headers arrive and before its body
  is read (for ``Expect: 100-continue`` uploads: before the client sends the body),
  then forward it.

Rules match on method, a substring of the path and (optionally) a header-name prefix
(``header="x-amz-checksum-"``: requests that carry a checksum), skip the first ``after`` matches and
fire ``times`` times (``None``: always). The first rule that fires wins. Every request is
logged with what was done to it (``proxy.log``).

Only the standard library; loopback only (it binds 127.0.0.1 and refuses to forward
anywhere but loopback); bounded: it stops itself after ``lifetime`` seconds, stalls end
after ``stall_limit`` seconds, idle connections are closed, and all threads are daemons.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
ACTIONS = ("slowdown", "error500", "error", "reset", "stall", "outage", "mangle", "hook")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
}
_MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Fault:
    """One rule of the plan. See the module docstring for the actions."""

    action: str
    times: int | None = 1
    method: str | None = None
    path_contains: str | None = None
    header: str | None = None  # a header whose name starts with this must be present
    after: int = 0
    status: int = 503
    code: str = "SlowDown"
    message: str = "Please reduce your request rate."
    seconds: float = 1.0  # for "outage"
    hook: Callable[[], None] | None = None
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")
        if self.action == "slowdown":
            self.status, self.code = 503, "SlowDown"
        elif self.action == "error500":
            self.status, self.code = 500, "InternalError"
            self.message = "We encountered an internal error. Please try again."

    def matches(self, method: str, path: str, headers: list[tuple[str, str]]) -> bool:
        if self.method is not None and method.upper() != self.method.upper():
            return False
        if self.header is not None:
            prefix = self.header.lower()
            if not any(name.lower().startswith(prefix) for name, _ in headers):
                return False
        return self.path_contains is None or self.path_contains in path


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    action: str  # "forward" or the fault's action
    expect_continue: bool = False  # it asked to wait for "100 Continue" before its body


class _Request:
    def __init__(self, method: str, path: str, version: str, headers: list[tuple[str, str]]):
        self.method, self.path, self.version, self.headers = method, path, version, headers

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class FaultProxy:
    """Forwards HTTP/1.1 from ``url`` to ``upstream`` (a loopback URL), injecting faults."""

    def __init__(
        self,
        upstream: str,
        *,
        lifetime: float = 120.0,
        stall_limit: float = 10.0,
        idle_timeout: float = 15.0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in (LOOPBACK, "localhost"):
            raise ValueError("the fault proxy only forwards to http://127.0.0.1")
        self._upstream = (LOOPBACK, parts.port or 80)
        self._lifetime = lifetime
        self._stall_limit = stall_limit
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self.log: list[Logged] = []
        self._stop = threading.Event()
        self._refuse_until = 0.0
        self._listener: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.port = self._bind_new_port()

    # -- control -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def plan(self, *rules: Fault) -> FaultProxy:
        """Add rules (checked in order, after any added before)."""
        with self._lock:
            self._rules.extend(rules)
        return self

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def refuse_for(self, seconds: float) -> None:
        """Start an outage now: refuse connections for `seconds`, reset the open ones."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
            clients = list(self._clients)
        for sock in clients:
            _reset(sock)

    @property
    def refusing(self) -> bool:
        return time.monotonic() < self._refuse_until

    def count(self, *, action: str | None = None, method: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for entry in self.log
                if (action is None or entry.action == action)
                and (method is None or entry.method == method)
            )

    def start(self) -> FaultProxy:
        thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            clients = list(self._clients)
        for sock in clients:
            _reset(sock)
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- listening -----------------------------------------------------------------

    def _bind_new_port(self) -> int:
        # Below the ephemeral range, so no outgoing connection takes the port while an
        # outage has the listener closed.
        for _ in range(200):
            port = random.randint(20000, 29999)
            with contextlib.suppress(OSError):
                self._listener = self._listen(port)
                return port
        raise RuntimeError("no free port for the fault proxy")

    @staticmethod
    def _listen(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((LOOPBACK, port))
            sock.listen(64)
            sock.settimeout(0.02)
        except OSError:
            sock.close()
            raise
        return sock

    def _serve(self) -> None:
        deadline = time.monotonic() + self._lifetime
        try:
            while not self._stop.is_set():
                if time.monotonic() > deadline:
                    self._stop.set()  # self-stopping: a forgotten proxy does not linger
                    break
                if self.refusing:
                    if self._listener is not None:
                        self._listener.close()  # connections are now refused
                        self._listener = None
                    self._stop.wait(0.01)
                    continue
                if self._listener is None:
                    try:
                        self._listener = self._listen(self.port)
                    except OSError:
                        self._stop.wait(0.01)
                        continue
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    continue
                client.settimeout(self._idle_timeout)
                with self._lock:
                    self._clients.add(client)
                thread = threading.Thread(
                    target=self._handle, args=(client,), name="fault-proxy-conn", daemon=True
                )
                thread.start()
        finally:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            with self._lock:
                clients = list(self._clients)
            for sock in clients:
                _reset(sock)

    # -- one client connection ---------------------------------------------------------

    def _handle(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        upstream: http.client.HTTPConnection | None = None
        try:
            while not self._stop.is_set():
                request = _read_head(reader)
                if request is None:
                    return
                rule = self._match(request)
                action = rule.action if rule else "forward"
                if rule is not None and rule.action == "outage":
                    self.refuse_for(rule.seconds)
                    self._log(request, action)
                    return
                if rule is not None and rule.hook is not None:
                    rule.hook()
                if (request.header("expect") or "").lower() == "100-continue":
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = _read_body(reader, request)
                self._log(request, action)
                if action == "reset":
                    return
                if action == "stall":
                    self._stall(client)
                    return
                if rule is not None and action in ("slowdown", "error500", "error"):
                    client.sendall(_error_response(request, rule))
                    continue
                if action == "mangle" and body:
                    index = len(body) // 2
                    body = body[:index] + bytes([body[index] ^ 0xFF]) + body[index + 1 :]
                if upstream is None:
                    upstream = http.client.HTTPConnection(*self._upstream, timeout=30)
                client.sendall(_forward(upstream, request, body))
        except (OSError, ValueError, http.client.HTTPException):
            return
        finally:
            with self._lock:
                self._clients.discard(client)
            if upstream is not None:
                upstream.close()
            with contextlib.suppress(OSError):
                reader.close()
            _reset(client)

    def _match(self, request: _Request) -> Fault | None:
        if self.refusing:
            return Fault("reset")
        with self._lock:
            for rule in self._rules:
                if not rule.matches(request.method, request.path, request.headers):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.fired += 1
                return rule
        return None

    def _stall(self, client: socket.socket) -> None:
        """Hold the connection without answering until the client hangs up (bounded)."""
        deadline = time.monotonic() + self._stall_limit
        client.settimeout(0.05)
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                if not client.recv(65536):
                    return  # the client gave up
            except TimeoutError:
                continue
            except OSError:
                return

    def _log(self, request: _Request, action: str) -> None:
        with self._lock:
            expect = (request.header("expect") or "").lower() == "100-continue"
            self.log.append(Logged(request.method, request.path, action, expect))


# --------------------------------------------------------------------------- HTTP bits


def _read_head(reader: object) -> _Request | None:
    readline = reader.readline  # type: ignore[attr-defined]
    line = readline(_MAX_HEADER_BYTES)
    while line in (b"\r\n", b"\n"):
        line = readline(_MAX_HEADER_BYTES)
    if not line:
        return None
    method, path, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: list[tuple[str, str]] = []
    total = 0
    while True:
        raw = readline(_MAX_HEADER_BYTES)
        total += len(raw)
        if not raw or raw in (b"\r\n", b"\n") or total > _MAX_HEADER_BYTES:
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return _Request(method, path, version, headers)


def _read_body(reader: object, request: _Request) -> bytes:
    if (request.header("transfer-encoding") or "").lower() == "chunked":
        raise ValueError("chunked request bodies are not supported by the fault proxy")
    length = int(request.header("content-length") or 0)
    data = reader.read(length) if length else b""  # type: ignore[attr-defined]
    if len(data) != length:
        raise ValueError("the client closed before sending the whole body")
    return bytes(data)


def _forward(upstream: http.client.HTTPConnection, request: _Request, body: bytes) -> bytes:
    """Send the request to the real server; return its whole response, to be relayed.

    The client's connection stays open whatever the server does with its own (a closed
    upstream connection is opened again for the next request)."""
    upstream.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
    for name, value in request.headers:
        if name.lower() in _HOP_BY_HOP:
            continue
        if name.lower() == "content-length":
            value = str(len(body))
        upstream.putheader(name, value)
    upstream.endheaders(body if body else None)
    response = upstream.getresponse()
    data = response.read()
    lines = [f"HTTP/1.1 {response.status} {response.reason}"]
    for name, value in response.getheaders():
        if name.lower() in _HOP_BY_HOP:
            continue
        if name.lower() == "content-length" and request.method != "HEAD":
            continue
        lines.append(f"{name}: {value}")
    if request.method != "HEAD":
        lines.append(f"Content-Length: {len(data)}")
        payload = data
    else:
        payload = b""
    if response.will_close:
        upstream.close()
    lines.append("Connection: keep-alive")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + payload


def _error_response(request: _Request, rule: Fault) -> bytes:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{rule.code}</Code><Message>{rule.message}</Message>"
        f"<Resource>{request.path.split('?', 1)[0]}</Resource>"
        "<RequestId>fault-proxy</RequestId></Error>"
    ).encode()
    reason = http.client.responses.get(rule.status, "Error")
    head = (
        f"HTTP/1.1 {rule.status} {reason}\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    ).encode("latin-1")
    return head + (b"" if request.method == "HEAD" else body)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset rather than an orderly shutdown."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
