"""What protects the served app from its clients, where Gradio and uvicorn leave it to the host app.

- :class:`HostOriginGuard`: requests whose ``Host`` is not this server (DNS rebinding) or whose
  ``Origin`` is another site (cross-site posts) are refused with 403 before Gradio sees them;
- :class:`BodyLimit`: request bodies other than uploads (which Gradio streams to disk within
  ``max_file_size``) are refused over 1 MiB (413) or without a length (411), before being read;
- :func:`read_timeout_protocol`: a client that has not sent a whole request within the read timeout
  is disconnected (slow-loris), on top of uvicorn's keep-alive timeout;
- :func:`network_warning`: what is printed when the app listens beyond this machine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from synthboost.logs import get_logger

log = get_logger("app")

#: Largest request body outside uploads (Gradio's event data: JSON with file references).
MAX_JSON_BODY = 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _hostname(value: str) -> str:
    """The host name of a ``Host`` header value or an ``Origin`` URL, lower case, without port."""
    netloc = urlsplit(value).netloc if "://" in value else value
    return (urlsplit(f"//{netloc}").hostname or "").lower()


class HostOriginGuard:
    """ASGI middleware: refuse a foreign ``Host`` (DNS rebinding) or ``Origin`` (cross-site request).

    Args:
        app: the ASGI app to protect.
        allowed_hosts: host names accepted besides loopback names; ``None`` accepts any ``Host``
            (a server bound to all interfaces, reached under names it cannot know).
    """

    def __init__(self, app: Any, allowed_hosts: Iterable[str] | None = ()) -> None:
        self.app = app
        self.hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    def _host_ok(self, host: str) -> bool:
        return self.hosts is None or is_loopback(host) or host in self.hosts

    def refusal(self, headers: dict[bytes, bytes]) -> str | None:
        """Why a request with these headers is refused, or ``None``."""
        host = _hostname(headers.get(b"host", b"").decode("latin-1"))
        if not host or not self._host_ok(host):
            return f"Host {host or '(none)'!r} is not this server"
        origin = headers.get(b"origin")
        if origin is not None:
            name = _hostname(origin.decode("latin-1"))
            if name != host and not (is_loopback(name) and is_loopback(host)):
                return f"cross-site request from origin {origin.decode('latin-1')!r} refused"
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            reason = self.refusal(dict(scope.get("headers") or []))
            if reason is not None:
                from starlette.responses import PlainTextResponse

                log.warning("app: %s", reason)
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse(reason + "\n", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: bodies other than Gradio's uploads are small JSON; refuse larger ones unread.

    Gradio bounds uploads (``max_file_size``, streamed to disk) but reads other bodies (event data)
    whole into memory. A body over ``max_bytes`` is answered 413 before it is read, and a body of
    unannounced length (chunked) 411. A client that disconnects mid-body is logged in one line
    (not as a server error).

    Args:
        app: the ASGI app to protect.
        max_bytes: the largest body accepted outside uploads.
        upload_suffix: path ending of the upload route (limited by Gradio itself).
    """

    def __init__(self, app: Any, max_bytes: int = MAX_JSON_BODY, upload_suffix: str = "/upload") -> None:
        self.app, self.max_bytes, self.upload_suffix = app, max_bytes, upload_suffix

    def refusal(self, method: str, path: str, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        """``(status, reason)`` refusing this request's body, or ``None``."""
        if method in ("GET", "HEAD", "OPTIONS") or path.rstrip("/").endswith(self.upload_suffix):
            return None
        length = headers.get(b"content-length")
        if length is None:
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                return 411, "a request body needs a Content-Length"
            return None
        try:
            size = int(length)
        except ValueError:
            return 400, f"invalid Content-Length {length.decode('latin-1')!r}"
        if size < 0:
            return 400, f"invalid Content-Length {size}"
        if size > self.max_bytes:
            return (
                413,
                f"request body of {size:,} bytes exceeds the {self.max_bytes:,}-byte limit (files go to /upload)",
            )
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope["method"], scope["path"], dict(scope.get("headers") or []))
            if refused is not None:
                from starlette.responses import PlainTextResponse

                await PlainTextResponse(refused[1] + "\n", status_code=refused[0],
                                        headers={"Connection": "close"})(scope, receive, send)  # fmt: skip
                return
        from starlette.requests import ClientDisconnect

        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:  # a client gone mid-body (or cut by the read timeout): nothing to answer
            log.info("app: client disconnected before sending its whole request (%s)", scope.get("path"))


def read_timeout_protocol(read_timeout: float) -> type:
    """uvicorn's h11 protocol, closing connections that take longer than ``read_timeout`` to send a request."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class ReadTimeoutProtocol(H11Protocol):
        def _arm(self) -> None:
            self._disarm()
            self._read_deadline = self.loop.call_later(read_timeout, self._read_timed_out)

        def _disarm(self) -> None:
            handle = getattr(self, "_read_deadline", None)
            if handle is not None:
                handle.cancel()
                self._read_deadline = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on this connection has its own deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _read_timed_out(self) -> None:
            cycle = self.cycle
            reading = cycle is None or cycle.response_complete or cycle.more_body
            if reading and not self.transport.is_closing():
                log.info("app: closed a connection that sent no whole request in %.0f s", read_timeout)
                self.transport.close()

    return ReadTimeoutProtocol


def allowed_hosts_for(host: str, extra: Iterable[str] = ()) -> list[str] | None:
    """``Host`` names accepted by a server bound to ``host``: ``None`` (any) for all interfaces."""
    if host in ("0.0.0.0", "::", ""):
        return None
    return [host.lower(), *(h.lower() for h in extra)]


def network_warning(host: str) -> str | None:
    """The warning printed when the app listens on more than this machine, else ``None``."""
    if is_loopback(host):
        return None
    where = "every network interface" if host in ("0.0.0.0", "::", "") else host
    return (f"listening on {where}: the app is reachable from the network, with no login; "
            "anyone who can reach it can run the model on their uploads")  # fmt: skip
