"""How the bot talks to the Bot API: PTB's networking interface over aiohttp's client.

PTB sends every Bot API call through a :class:`telegram.request.BaseRequest`; its own,
``HTTPXRequest``, is built on httpx. aiohttp is already a dependency (the webhook's
health server, the sandbox). PTB documents ``BaseRequest`` as the place for another
networking backend; this is one, and ``VOY_HTTP_CLIENT=httpx`` goes back to PTB's own.

What it keeps of ``HTTPXRequest``: the default timeouts (5 s to connect, read or write;
20 s to write an upload), the pool size, no redirects followed, an HTTP proxy from the
environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``, read once
per host: aiohttp's own ``trust_env`` reads the environment on every call, which cost
more than the client saved; no SOCKS), and the errors PTB expects: a timeout raises
:class:`telegram.error.TimedOut`, any other failure to talk to the server
:class:`telegram.error.NetworkError`, neither carrying the URL (it holds the token).
What differs: aiohttp has no separate write timeout, so a call as a whole is bounded by
the sum of its timeouts; the wait for a free connection and the connect share one
bound (pool + connect timeout, 6 s), and a call that ran out of it is a plain
``TimedOut`` (httpx says it was never sent); TLS is checked against the system's
certificates, not certifi's.
"""

from __future__ import annotations

import re
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# HTTPXRequest's defaults (PTB 22).
DEFAULT_POOL_SIZE = 256
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_POOL_TIMEOUT_S = 1.0
DEFAULT_MEDIA_WRITE_TIMEOUT_S = 20.0

# The token's place in a Bot API URL, for error texts.
_TOKEN_IN_URL = re.compile(r"/(file/)?bot[^/\s]+")

# The class of PTB's "not given" markers (DEFAULT_NONE, DEFAULT_20...), from its public face.
_DefaultValue = type(BaseRequest.DEFAULT_NONE)


def _given(value: Any, default: float | None) -> float | None:
    """``value`` unless it is one of PTB's "not given" markers."""
    return default if isinstance(value, _DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """A :class:`~telegram.request.BaseRequest` on one :class:`aiohttp.ClientSession`."""

    def __init__(
        self,
        *,
        connection_pool_size: int = DEFAULT_POOL_SIZE,
        read_timeout: float | None = DEFAULT_TIMEOUT_S,
        write_timeout: float | None = DEFAULT_TIMEOUT_S,
        connect_timeout: float | None = DEFAULT_TIMEOUT_S,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT_S,
        media_write_timeout: float | None = DEFAULT_MEDIA_WRITE_TIMEOUT_S,
    ) -> None:
        """Keep the settings; the session is opened by :meth:`initialize`, on the loop."""
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # The proxy for each (scheme, host) called so far: None means straight there.
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout of calls that do not set their own (PTB reads it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the client session (once)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the client session and its connections (again is harmless)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one call; return the HTTP status and the body (PTB parses it)."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        has_files = request_data is not None and request_data.contains_files
        files = request_data.multipart_data if request_data and has_files else None
        fields = request_data.json_parameters if request_data else None
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        timeout = aiohttp.ClientTimeout(
            total=_total(read, write, connect, pool),
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        data: Any = fields
        if files:
            data = aiohttp.FormData(quote_fields=False)
            for name, value in (fields or {}).items():
                data.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, _content(content), filename=filename, content_type=mimetype)
        # The errors leave aiohttp's exception behind (`from None`): its text and its
        # request info hold the URL, and the URL holds the token; logs would show it.
        try:
            async with session.request(
                method,
                url,
                data=data,
                timeout=timeout,
                proxy=self._proxy_for(url),
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut(f"Timed out: aiohttp.{type(err).__name__}") from None
        except aiohttp.ClientError as err:
            text = _TOKEN_IN_URL.sub(r"/\1bot<token>", str(err))
            raise NetworkError(f"aiohttp.{type(err).__name__}: {text}") from None

    def _proxy_for(self, url: str) -> str | None:
        """The environment's proxy for ``url``'s scheme and host, looked up once."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            found = urllib.request.getproxies()
            proxy = found.get(parts.scheme) or found.get("all")
            if proxy and urllib.request.proxy_bypass(key[1]):
                proxy = None
            if proxy and "://" not in proxy:
                proxy = f"http://{proxy}"  # as httpx reads "proxy:3128"
            self._proxies[key] = proxy or None
        return self._proxies[key]


def _total(*parts: float | None) -> float | None:
    """The whole call's bound: the sum of its timeouts, or none if any is unbounded."""
    if any(part is None for part in parts):
        return None
    return sum(part for part in parts if part is not None)


def _content(content: Any) -> Any:
    """Bytes for aiohttp: a file handle is read (aiohttp would close it after the call,
    and a retry of the same call could not read it again) and put back where it was."""
    if isinstance(content, bytes):
        return content
    start = content.tell() if content.seekable() else None
    data = content.read()
    if start is not None:
        content.seek(start)
    return data


def new_request(client: str, **kwargs: Any) -> BaseRequest:
    """The request object for ``client`` ("aiohttp" or "httpx"), with ``kwargs``."""
    if client == "httpx":
        from telegram.request import HTTPXRequest

        return HTTPXRequest(**kwargs)
    return AiohttpRequest(**kwargs)
