"""web_reader: fetch an http(s) page and return its title and readable main text.

The fetch is guarded against SSRF unless ``DIRECTOR_ALLOW_PRIVATE_URLS=true``: every address the host
resolves to is checked, on every redirect hop, and the connection is made to an address that was just
checked. Resolving once to check and again to connect would let a DNS server answer "public" to the
first lookup and "127.0.0.1" to the second (DNS rebinding). Download size and time are capped.
``read_url`` is reused by other agents (summarize).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from time import monotonic
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel

from director.agents.base import AgentResponse, AgentStatus, BaseAgent
from director.agents.settings import AgentSettings, load_agent_settings
from director.errors import DirectorError
from director.llm.redact import protect

if TYPE_CHECKING:
    import httpcore
    import httpx

logger = logging.getLogger(__name__)
# Agent tracebacks and provider errors can carry keys: mask them in every line we log.
protect(logger)

MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown")
USER_AGENT = "Director-web-reader/1.0 (+https://github.com/video-db/Director)"


class WebReadError(DirectorError):
    """A page could not be read; ``message`` says why in terms the model/user can act on."""


class Page(BaseModel):
    url: str
    final_url: str
    title: str | None
    text: str
    content_type: str
    truncated: bool = False  # the download hit the size limit


# IANA's special-purpose address registries (iana-ipv4-special-registry, iana-ipv6-special-registry)
# and deprecated forms, for what the ``ipaddress`` flags of the Python we run miss (3.11's tables
# predate several entries: 192.0.0.8, 3fff::/20, 5f00::/16...). Every row is refused, even the few
# IANA marks globally reachable (AS112, AMT, PCP/TURN anycast): none of them serves web pages, and
# anything less than the whole table leaves a gap. Most specific first, for the label.
SPECIAL_PURPOSE_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this-network"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("192.0.0.0/24", "IETF protocol assignment"),  # 192.0.0.8 dummy, DS-Lite, NAT64 discovery...
    ("192.0.2.0/24", "documentation"),
    ("192.31.196.0/24", "AS112"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.175.48.0/24", "AS112"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("::/96", "IPv4-compatible (deprecated)"),  # ::127.0.0.1 is "global" to ipaddress
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("100:0:0:1::/64", "dummy"),
    ("2001::/32", "Teredo"),  # a tunnel to an IPv4 host (obfuscated in the address): never a web server
    ("2001::/23", "IETF protocol assignment"),  # benchmarking, ORCHID, AS112, AMT...
    ("2001:db8::/32", "documentation"),
    ("2620:4f:8000::/48", "AS112"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "SRv6 SID"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
)
_SPECIAL_NETWORKS = tuple((ipaddress.ip_network(net), label) for net, label in SPECIAL_PURPOSE_RANGES)
# NAT64's well-known prefix: the gateway connects to the IPv4 address in the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# What the flags of ``ipaddress`` say: the specific ones before the table, the broad ones after it
# (Python calls 169.254.0.0/16 and Teredo "private" too; the specific label is more useful).
_SPECIFIC_FLAGS = (
    ("is_loopback", "loopback"),
    ("is_unspecified", "unspecified"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
)
_BROAD_FLAGS = (("is_private", "private"), ("is_reserved", "reserved"))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address leads to (mapped, 6to4, NAT64), with the form's name."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "an IPv4-mapped"
    if ip.sixtofour is not None:
        return ip.sixtofour, "a 6to4"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "a NAT64"
    return None


def _blocked_reason(address: str) -> str | None:
    """Why ``address`` may not be fetched from (a label such as "loopback"), or None if it is public."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)):
        # 6to4 and NAT64 gateways forward to the embedded address: judge that address.
        inner, form = embedded
        reason = _blocked_reason(str(inner))
        return f"{reason} (inside {form} address)" if reason else None
    for attr, label in _SPECIFIC_FLAGS:
        if getattr(ip, attr):
            return label
    for network, label in _SPECIAL_NETWORKS:
        if ip.version == network.version and ip in network:
            return f"special-purpose {label}"
    for attr, label in _BROAD_FLAGS:
        if getattr(ip, attr):
            return label
    if not ip.is_global:
        return "non-public"
    return None


def public_addresses(host: str, port: int, what: str) -> list[str]:
    """The addresses ``host`` resolves to, all of them public, or WebReadError naming ``what``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebReadError(f"The host {host!r} could not be resolved.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    # Every address, not just the first: a name may resolve to a public and a private address.
    for address in addresses:
        reason = _blocked_reason(address)
        if reason:
            raise WebReadError(
                f"Refused to read {what}: its host resolves to a {reason} address. "
                "Private network URLs are disabled on this server (DIRECTOR_ALLOW_PRIVATE_URLS)."
            )
    return addresses


def check_url_allowed(url: str, allow_private: bool) -> None:
    """Raise WebReadError unless ``url`` is http(s) and (by default) resolves only to public addresses.

    An early, friendly answer naming the URL; the connection itself is guarded again by
    ``_public_only_transport`` at connect time.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # parsed lazily: "18203%2f" or "99999" raise ValueError only here
    except ValueError as exc:
        raise WebReadError(f"{url[:300]!r} is not a valid URL ({exc}).") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebReadError(f"Only http:// and https:// URLs can be read, not {url!r}.")
    if allow_private:
        return
    public_addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80), url)


def _public_only_backend() -> httpcore.NetworkBackend:
    import httpcore

    class PublicOnlyBackend(httpcore.SyncBackend):
        """Resolves the host itself and connects only to the public addresses it just checked.

        TLS still verifies the certificate against the host name: httpcore takes the server name
        from the URL, not from the address connected to.
        """

        def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
            error: httpcore.ConnectError | None = None
            for address in public_addresses(host, port, f"{host}:{port}"):
                # Each in turn, as a resolver-based connect would.
                try:
                    return super().connect_tcp(address, port, *args, **kwargs)
                except httpcore.ConnectError as exc:
                    error = exc
            assert error is not None  # public_addresses raises rather than return an empty list
            raise error

    return PublicOnlyBackend()


def _public_only_transport() -> httpx.HTTPTransport:
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(retries=0)
    # httpx (pinned in requirements.txt) takes no network backend, so its pool is rebuilt with ours;
    # tests/agents/test_web_reader.py proves a rebinding answer is refused, so an httpx that changes
    # this attribute fails there, not silently in production.
    if not isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        raise RuntimeError("httpx.HTTPTransport internals changed: web_reader cannot guard connections")
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_public_only_backend()
    )
    return transport


def _download(client: httpx.Client, url: str, settings: AgentSettings) -> tuple[str, bytes, str, bool, str]:
    """Follow redirects by hand so each hop is checked. Returns (final_url, body, ctype, truncated, charset)."""
    deadline = monotonic() + settings.web_timeout_s
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url_allowed(current, settings.allow_private_urls)
        with client.stream("GET", current) as response:
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise WebReadError(f"{current} redirected without a location.")
                current = urljoin(current, location)
                continue
            if response.status_code >= 400:
                raise WebReadError(f"The server answered HTTP {response.status_code} for {current}.")
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type and content_type not in HTML_TYPES + TEXT_TYPES:
                raise WebReadError(f"{current} is not a web page (content type {content_type}).")
            chunks: list[bytes] = []
            size, truncated = 0, False
            for chunk in response.iter_bytes():
                size += len(chunk)
                chunks.append(chunk)
                if size >= settings.web_max_bytes:
                    truncated = True
                    break
                if monotonic() > deadline:
                    raise WebReadError(f"Reading {current} took longer than {settings.web_timeout_s:g} s.")
            body = b"".join(chunks)[: settings.web_max_bytes]
            return current, body, content_type or "text/html", truncated, response.charset_encoding or ""
    raise WebReadError(f"{url} redirected more than {MAX_REDIRECTS} times.")


def extract_text(html: str | bytes, url: str | None = None) -> tuple[str | None, str]:
    """(title, main text) of an HTML document, via trafilatura's readability extraction."""
    import trafilatura  # ~0.2 s import: only when a page is actually read

    document = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    if document is None:
        return None, ""
    title = getattr(document, "title", None)
    text = getattr(document, "text", None) or ""
    return title, text.strip()


def read_url(url: str, settings: AgentSettings | None = None) -> Page:
    """Fetch and extract ``url``. Raises WebReadError with a user-safe message."""
    import httpx

    settings = settings or load_agent_settings()
    timeout = httpx.Timeout(settings.web_timeout_s)
    try:
        with httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # no proxy from the environment: it would connect on our behalf, unchecked
            transport=None if settings.allow_private_urls else _public_only_transport(),
        ) as client:
            final_url, body, content_type, truncated, charset = _download(client, url, settings)
    except httpx.InvalidURL as exc:  # what urlsplit accepts but httpx does not (not an HTTPError)
        raise WebReadError(f"{url[:300]!r} is not a valid URL ({exc}).") from exc
    except httpx.TimeoutException as exc:
        raise WebReadError(f"Reading {url} took longer than {settings.web_timeout_s:g} s.") from exc
    except httpx.HTTPError as exc:
        logger.info("fetch of %s failed: %r", url, exc)
        raise WebReadError(f"Could not connect to {urlsplit(url).hostname} ({type(exc).__name__}).") from exc
    if content_type in TEXT_TYPES:
        text = body.decode(charset or "utf-8", errors="replace").strip()
        return Page(url=url, final_url=final_url, title=None, text=text, content_type=content_type)
    # Without a charset header, hand trafilatura the bytes: it detects <meta charset> itself.
    html: str | bytes = body.decode(charset, errors="replace") if charset else body
    title, text = extract_text(html, final_url)
    if not text:
        raise WebReadError(f"No readable text was found on {final_url}.")
    return Page(
        url=url, final_url=final_url, title=title, text=text, content_type=content_type, truncated=truncated
    )


class WebReaderAgent(BaseAgent):
    name = "web_reader"
    description = "Reads a web page (http/https URL) and returns its title and main text."

    def run(self, url: str, max_chars: int = 8000) -> AgentResponse:
        """Read a web page.

        Args:
            url: The http(s) URL of the page to read.
            max_chars: Maximum number of characters of text to return.
        """
        self.report(f"Reading {url}")
        try:
            page = read_url(url)
        except WebReadError as exc:
            return AgentResponse(status=AgentStatus.ERROR, message=exc.message, data={"url": url})
        text = page.text[: max(max_chars, 0)]
        cut = len(text) < len(page.text)
        label = page.title or page.final_url
        return AgentResponse(
            message=f"Read “{label}” ({len(page.text):,} characters{', truncated' if cut else ''}).",
            data={
                "url": page.final_url,
                "title": page.title,
                "text": text,
                "truncated": cut or page.truncated,
            },
        )
