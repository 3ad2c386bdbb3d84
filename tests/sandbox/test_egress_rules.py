"""Egress rules, the ClientHello reader and the resolver's refusal of internal addresses."""

from __future__ import annotations

import ssl

import pytest

from factory.sandbox.egress import EgressRules, proxy_env
from factory.sandbox.egress_proxy import is_internal
from factory.sandbox.egress_wire import sni_of

BUNDLES = {"pypi": ["pypi.org:443", "files.pythonhosted.org:443"]}


def test_bundle_entry_allows_its_hosts_and_names_itself() -> None:
    """A bundle name expands to its hosts; the decision names the bundle and entry."""
    decision = EgressRules(["pypi"], BUNDLES).decide("files.pythonhosted.org", 443)
    assert (decision.allowed, decision.rule) == (True, "bundle pypi: files.pythonhosted.org:443")


def test_bundle_port_is_exact() -> None:
    """pypi.org:443 does not allow pypi.org:80."""
    assert EgressRules(["pypi"], BUNDLES).decide("pypi.org", 80).allowed is False


def test_entry_without_port_allows_80_and_443_only() -> None:
    """A bare host allows its HTTP and HTTPS ports and no other."""
    rules = EgressRules(["api.example.com"])
    got = [rules.decide("api.example.com", p).allowed for p in (80, 443, 22)]
    assert got == [True, True, False]


def test_wildcard_matches_subdomains_not_the_apex_or_lookalikes() -> None:
    """*.example.com allows a.example.com, not example.com nor badexample.com."""
    rules = EgressRules(["*.example.com:443"])
    names = ("a.example.com", "example.com", "badexample.com", "a.example.com.evil.test")
    assert [rules.decide(n, 443).allowed for n in names] == [True, False, False, False]


def test_host_comparison_ignores_case_and_trailing_dot() -> None:
    """API.Example.COM. is the same destination as api.example.com."""
    assert EgressRules(["api.example.com:443"]).decide("API.Example.COM.", 443).allowed is True


def test_denial_names_the_default_rule_and_the_list() -> None:
    """The deny reason says it was the default deny and what is allowed."""
    decision = EgressRules(["pypi"], BUNDLES).decide("evil.test", 443)
    assert decision.rule == "default deny: evil.test:443 is not in allow [pypi]"


def test_unknown_bundle_is_refused() -> None:
    """A bundle name the policy does not define is an error, not an empty allowance."""
    with pytest.raises(ValueError, match="unknown egress bundle 'npm'"):
        EgressRules(["npm"], BUNDLES)


def test_malformed_entry_is_refused() -> None:
    """A URL is not a host[:port] entry."""
    with pytest.raises(ValueError, match="not host"):
        EgressRules(["https://pypi.org/"])


def test_proxy_env_covers_curl_python_pip_npm_and_git() -> None:
    """Every client family's proxy setting points at the in-sandbox bridge."""
    env = proxy_env(3128)
    keys = ("HTTPS_PROXY", "http_proxy", "PIP_PROXY", "npm_config_https_proxy")
    assert [env[k] for k in keys] + [env["GIT_CONFIG_KEY_0"], env["GIT_CONFIG_VALUE_0"]] == [
        "http://127.0.0.1:3128"
    ] * 4 + ["http.proxy", "http://127.0.0.1:3128"]


def client_hello(server_hostname: str | None) -> bytes:
    """Return the first flight of a real TLS client (Python's ssl) for ``server_hostname``."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_sni_is_read_from_a_real_client_hello() -> None:
    """The server_name of a real ClientHello is found."""
    assert sni_of(client_hello("pypi.org")) == "pypi.org"


def test_client_hello_without_sni_has_none() -> None:
    """A hello without server_name gives None (the proxy then refuses the tunnel)."""
    assert sni_of(client_hello(None)) is None


def test_partial_client_hello_has_none() -> None:
    """Half a ClientHello gives None rather than a misread name."""
    hello = client_hello("pypi.org")
    assert sni_of(hello[: len(hello) // 2]) is None


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.20.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("fd00::2", True),
        ("fe80::1", True),
        ("0.0.0.0", True),
        ("151.101.0.223", False),
        ("2a04:4e42::223", False),
    ],
)
def test_internal_addresses_are_refused_by_the_dns_resolver(address: str, internal: bool) -> None:
    """Loopback, private, link-local (cloud metadata) and unspecified addresses are internal."""
    assert is_internal(address) is internal
