"""The agent's HTTP/1.1 server, on asyncio streams.

The standard library has no asyncio HTTP server, and `http.server` runs a thread per connection
and reads on its own terms; the protocol needs the opposite: nothing of a request's body is read
before its signature header has been checked, and never more than the limit. So this reads the
head itself (the header block is parsed by `http.client.parse_headers`), hands the handler a
request whose body it reads only when asked, and closes any connection whose body went unread.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Awaitable, Callable

#: Request line and headers together.
MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_S = 30.0
BODY_TIMEOUT_S = 30.0
IDLE_TIMEOUT_S = 75.0


class BodyTooSlow(Exception):
    """The client did not send the body it announced in time (or went away mid-body)."""


@dataclass
class Request:
    method: str
    path: str
    headers: http.client.HTTPMessage
    content_length: int | None
    _reader: asyncio.StreamReader
    _writer: asyncio.StreamWriter
    _expect_continue: bool = False
    keep_alive: bool = True
    body_read: bool = False

    def header(self, name: str) -> str | None:
        """The header's value; None if absent or sent more than once (ambiguous)."""
        values = self.headers.get_all(name) or []
        return values[0] if len(values) == 1 else None

    def has_header(self, name: str) -> bool:
        return bool(self.headers.get_all(name))

    async def read_body(self) -> bytes:
        """Reads exactly the announced body (the caller has checked it against its limit)."""
        n = self.content_length or 0
        if self._expect_continue:
            self._writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            data = await asyncio.wait_for(self._reader.readexactly(n), BODY_TIMEOUT_S) if n else b""
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as err:
            raise BodyTooSlow() from err
        self.body_read = True
        return data


@dataclass
class Response:
    status: int
    body: Any
    #: Close the connection after this answer (a request refused before its body was read).
    close: bool = False
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


def error(status: int, message: str, close: bool = False) -> Response:
    return Response(status, {"error": {"code": "rejected", "message": message}}, close)


class HttpServer:
    """Serves `handler` on host:port with keep-alive, at most `max_connections` at once."""

    def __init__(self, handler: Handler, *, max_connections: int = 256, on_error: Callable[[BaseException], None]):
        self._handler = handler
        self._max = max_connections
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.base_events.Server | None = None
        self._on_error = on_error

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD_BYTES)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for w in list(self._open):
            w.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._open) >= self._max:
            writer.close()
            return
        self._open.add(writer)
        try:
            first = True
            while True:
                request = await self._read_head(reader, writer, HEAD_TIMEOUT_S if first else IDLE_TIMEOUT_S)
                first = False
                if request is None:
                    return
                if isinstance(request, Response):
                    await self._write(writer, request, True)
                    return
                try:
                    response = await self._handler(request)
                except BodyTooSlow:
                    return
                except Exception as err:  # a bug in a hook must not take the server down
                    self._on_error(err)
                    response = error(500, "the agent failed to handle the request")
                close = (
                    response.close
                    or (request.content_length and not request.body_read)
                    or not request.keep_alive
                )
                await self._write(writer, response, bool(close))
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._open.discard(writer)
            writer.close()

    async def _read_head(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> Request | Response | None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except asyncio.LimitOverrunError:
            return error(431, f"the request head exceeds {MAX_HEAD_BYTES} bytes", True)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            return None
        line, _, rest = head.partition(b"\r\n")
        parts = line.decode("latin-1").split(" ")
        if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            return error(400, "malformed request line", True)
        method, target, version = parts
        try:
            headers = http.client.parse_headers(io.BytesIO(rest))
        except http.client.HTTPException:
            return error(400, "malformed headers", True)
        if headers.get_all("transfer-encoding"):
            return error(411, "send the body with a Content-Length (chunked bodies are not accepted)", True)
        lengths = set(headers.get_all("content-length") or [])
        length: int | None = None
        if lengths:
            value = lengths.pop() if len(lengths) == 1 else ""
            if not value.isdigit() or len(value) > 15:
                return error(400, "malformed Content-Length", True)
            length = int(value)
        connection = (headers.get("connection") or "").lower()
        request = Request(
            method=method,
            path=target.split("?", 1)[0],
            headers=headers,
            content_length=length,
            _reader=reader,
            _writer=writer,
            _expect_continue=(headers.get("expect") or "").lower() == "100-continue",
            keep_alive=connection == "keep-alive" if version == "HTTP/1.0" else connection != "close",
        )
        return request

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: Response, close: bool) -> None:
        body = json.dumps(response.body, separators=(",", ":")).encode()
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            *(f"{k}: {v}" for k, v in response.headers.items()),
        ]
        if close:
            lines.append("connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            await writer.drain()
        except ConnectionError:
            pass
