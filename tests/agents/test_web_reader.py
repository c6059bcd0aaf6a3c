from __future__ import annotations

import socket

import pytest
from director.agents import web_reader
from director.agents.settings import AgentSettings
from director.agents.web_reader import WebReaderAgent, WebReadError, check_url_allowed, read_url

from tests.agents.conftest import ARTICLE, PageServer


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRECTOR_ALLOW_PRIVATE_URLS", "true")


def test_reads_title_and_main_text(pages: PageServer, allow_private: None) -> None:
    response = WebReaderAgent().call({"url": pages.base + "/article"})
    assert response.status == "success"
    assert response.data["title"] == "Otters of the North"
    text = response.data["text"]
    assert "hold hands while they sleep" in text and "densest of any animal" in text
    assert "Example Footer" not in text  # boilerplate removed by the extractor
    assert "<p>" not in text
    assert "Otters of the North" in response.message


def test_follows_redirects_and_caps_text(pages: PageServer, allow_private: None) -> None:
    pages.add("/old", "", status=302, headers={"Location": "/article"})
    response = WebReaderAgent().call({"url": pages.base + "/old", "max_chars": 40})
    assert response.data["url"] == pages.base + "/article"
    assert len(response.data["text"]) == 40 and response.data["truncated"] is True


def test_refuses_loopback_by_default(pages: PageServer) -> None:
    response = WebReaderAgent().call({"url": pages.base + "/article"})
    assert response.status == "error"
    assert "loopback" in response.message and "DIRECTOR_ALLOW_PRIVATE_URLS" in response.message


def test_redirect_hop_is_checked(pages: PageServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend 127.0.0.1 is a public address so only the redirect target (a private address) is
    # judged for real: the guard must run again on every hop, not just the first URL.
    import director.agents.web_reader as web_reader

    real_reason, real_check = web_reader._blocked_reason, web_reader.check_url_allowed
    monkeypatch.setattr(web_reader, "_blocked_reason", lambda a: None if a == "127.0.0.1" else real_reason(a))
    seen: list[str] = []

    def check(url: str, allow_private: bool) -> None:
        seen.append(url)
        real_check(url, allow_private)

    monkeypatch.setattr(web_reader, "check_url_allowed", check)
    pages.add("/hop", "", status=302, headers={"Location": "http://10.1.2.3/article"})
    response = WebReaderAgent().call({"url": pages.base + "/hop"})
    assert seen == [pages.base + "/hop", "http://10.1.2.3/article"]
    assert response.status == "error" and "private" in response.message
    assert [path for path, _ in pages.received] == ["/hop"]


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "0.0.0.0",
        "100.64.0.1",  # carrier-grade NAT: not "private" to ipaddress, yet not on the internet
        "198.18.0.1",  # benchmarking range
    ],
)
def test_private_addresses_blocked(monkeypatch: pytest.MonkeyPatch, address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda h, p, *a, **k: [(family, 1, 6, "", (address, p))])
    with pytest.raises(WebReadError, match="Refused"):
        check_url_allowed("http://somewhere.test/", allow_private=False)


def test_any_private_address_among_several_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [(socket.AF_INET, 1, 6, "", ("8.8.8.8", 80)), (socket.AF_INET, 1, 6, "", ("10.0.0.5", 80))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda h, p, *a, **k: answers)
    with pytest.raises(WebReadError, match="private"):
        check_url_allowed("http://mixed.test/", allow_private=False)


def test_rejects_non_http_schemes() -> None:
    for url in ("file:///etc/passwd", "ftp://x/y", "not a url"):
        with pytest.raises(WebReadError, match="Only http"):
            check_url_allowed(url, allow_private=True)


def test_non_html_and_http_errors(pages: PageServer) -> None:
    settings = AgentSettings(_env_file=None, allow_private_urls=True)
    pdf = pages.add("/doc.pdf", b"%PDF-1.4", ctype="application/pdf")
    with pytest.raises(WebReadError, match="not a web page"):
        read_url(pdf, settings)
    with pytest.raises(WebReadError, match="HTTP 404"):
        read_url(pages.base + "/missing", settings)


def test_size_limit(pages: PageServer) -> None:
    big = ARTICLE.replace("</article>", "<p>" + "more words here " * 5000 + "</p></article>")
    url = pages.add("/big", big)
    page = read_url(url, AgentSettings(_env_file=None, allow_private_urls=True, web_max_bytes=1500))
    assert page.truncated is True
    assert "hold hands" in page.text


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WebReadError, match="Could not connect"):
        read_url(f"http://127.0.0.1:{port}/", AgentSettings(_env_file=None, allow_private_urls=True))


def test_meta_charset_without_header(pages: PageServer) -> None:
    html = (
        '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><article>'
        + "<p>Le caf\xe9 est tr\xe8s bon et la cr\xe8me br\xfbl\xe9e aussi, dit le gar\xe7on au client. </p>"
        * 3
        + "</article></body></html>"
    ).encode("latin-1")
    url = pages.add("/latin", html, ctype="text/html")
    page = read_url(url, AgentSettings(_env_file=None, allow_private_urls=True))
    assert "crème brûlée" in page.text


def test_public_address_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda h, p, *a, **k: [(socket.AF_INET, 1, 6, "", ("8.8.8.8", p))]
    )
    check_url_allowed("http://public.test/", allow_private=False)  # no error


class Resolver:
    """Stands in for DNS: ``host`` resolves to each of ``answers`` in turn (the last one sticks)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, host: str, *answers: str) -> None:
        self.host, self.answers, self.lookups = host, list(answers), 0
        real = socket.getaddrinfo

        def getaddrinfo(name: str, port: int, *args: object, **kwargs: object) -> list:
            if name != self.host:
                return real(name, port, *args, **kwargs)
            address = self.answers[min(self.lookups, len(self.answers) - 1)]
            self.lookups += 1
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_dns_rebinding_between_check_and_connect_is_refused(
    pages: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hostile DNS server answers "public" to the first lookup, then "127.0.0.1" once the URL has
    # passed the check. The connection must use a checked address, so nothing reaches the local server.
    port = pages.base.rsplit(":", 1)[1]
    resolver = Resolver(monkeypatch, "rebind.test", "93.184.216.34", "127.0.0.1")
    response = WebReaderAgent().call({"url": f"http://rebind.test:{port}/article"})
    assert response.status == "error"
    assert "loopback" in response.message and "DIRECTOR_ALLOW_PRIVATE_URLS" in response.message
    assert resolver.lookups == 2  # the early check, then the connect-time check that refused
    assert pages.received == []


def test_guarded_connection_reads_the_page_with_its_host_name(
    pages: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Treat loopback as public for this test so the guarded transport's happy path can be driven
    # end to end: it connects to the address it resolved and still sends the original Host.
    import director.agents.web_reader as web_reader

    monkeypatch.setattr(web_reader, "_blocked_reason", lambda address: None)
    port = pages.base.rsplit(":", 1)[1]
    Resolver(monkeypatch, "site.test", "127.0.0.1")
    response = WebReaderAgent().call({"url": f"http://site.test:{port}/article"})
    assert response.status == "success" and response.data["title"] == "Otters of the North"
    assert pages.received == [("/article", f"site.test:{port}")]


# Every form the SSRF filter must see through (issue 8, finding 9): (address, expected label part).
SPECIAL_ADDRESSES = [
    ("2002:a9fe:a9fe::", "link-local (inside a 6to4 address)"),  # 6to4 around 169.254.169.254
    ("2002:7f00:1::", "loopback (inside a 6to4 address)"),  # 6to4 around 127.0.0.1
    ("2002:0a00:0001::", "private (inside a 6to4 address)"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001::1", "Teredo"),
    ("64:ff9b::7f00:1", "loopback (inside a NAT64 address)"),
    ("64:ff9b::a9fe:a9fe", "link-local (inside a NAT64 address)"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("::ffff:127.0.0.1", "loopback (inside an IPv4-mapped address)"),
    ("::ffff:192.0.0.8", "IETF protocol assignment (inside an IPv4-mapped address)"),
    ("::127.0.0.1", "IPv4-compatible"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("192.0.0.9", "IETF protocol assignment"),
    ("192.0.0.170", "IETF protocol assignment"),
    ("192.0.2.1", "documentation"),
    ("192.31.196.1", "AS112"),
    ("192.52.193.1", "AMT"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("192.175.48.1", "AS112"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.7", "documentation"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("0.1.2.3", "this-network"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("224.0.0.1", "multicast"),
    ("100::1", "discard-only"),
    ("100:0:0:1::1", "dummy"),
    ("2001:db8::1", "documentation"),
    ("2001:2::1", "IETF protocol assignment"),
    ("2001:20::1", "IETF protocol assignment"),
    ("2620:4f:8000::1", "AS112"),
    ("3fff::1", "documentation"),
    ("5f00::1", "SRv6 SID"),
    ("fc00::1", "unique local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
]


@pytest.mark.parametrize(("address", "label"), SPECIAL_ADDRESSES)
def test_every_special_purpose_and_embedding_form_is_refused(
    monkeypatch: pytest.MonkeyPatch, address: str, label: str
) -> None:
    assert label in (web_reader._blocked_reason(address) or "")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda h, p, *a, **k: [(family, 1, 6, "", (address, p))])
    with pytest.raises(WebReadError, match="Refused"):
        check_url_allowed("http://somewhere.test/", allow_private=False)


def test_the_table_covers_each_iana_special_purpose_range() -> None:
    # The table is the documented source; each of its rows is refused at both ends of the range.
    for network, _label in web_reader._SPECIAL_NETWORKS:
        assert web_reader._blocked_reason(str(network.network_address)), network
        assert web_reader._blocked_reason(str(network.broadcast_address)), network


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "2606:4700:4700::1111", "2002:0808:0808::", "64:ff9b::808:808", "::ffff:8.8.8.8"],
)
def test_public_addresses_and_their_public_embeddings_pass(address: str) -> None:
    # 6to4 and NAT64 around a public IPv4 address are how IPv6-only networks reach the internet.
    assert web_reader._blocked_reason(address) is None


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize("url", ["http://127.0.0.1:18203%2f/", "http://example.com:99999/", "http://[::1/"])
def test_a_malformed_url_is_a_clear_invalid_url_result(
    monkeypatch: pytest.MonkeyPatch, url: str, allow_private: bool
) -> None:
    monkeypatch.setenv("DIRECTOR_ALLOW_PRIVATE_URLS", str(allow_private).lower())
    response = WebReaderAgent().call({"url": url})
    assert response.status == "error"
    assert "is not a valid URL" in response.message
