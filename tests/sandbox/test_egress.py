"""Egress allowlist in the real sandbox: allowed hosts work through real clients, others 403."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.egress_world import EgressWorld, egress_world

PIP_DOWNLOAD = ("python3", "-m", "pip", "download", "--no-deps", "--no-cache-dir", "-q")
PIP_DOWNLOAD += ("-d", "dl", "--cert", "cert.pem")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[EgressWorld]:
    """Loopback servers for allowed.test and evil.test behind a proxy allowing allowed.test."""
    yield from egress_world(tmp_path)


def test_curl_reaches_an_allowed_host_over_plain_http(world: EgressWorld) -> None:
    """curl with the sandbox's proxy variables fetches a file from an allowed host."""
    result = world.run(["curl", "-sS", "http://allowed.test/hello.txt"])
    assert (result.exit_code, result.stdout) == (0, "hello from allowed\n")


def test_curl_reaches_an_allowed_host_over_https_connect(world: EgressWorld) -> None:
    """curl tunnels TLS through CONNECT to an allowed host (SNI equal to the target)."""
    result = world.run(["curl", "-sS", "--cacert", "cert.pem", "https://allowed.test/hello.txt"])
    assert (result.exit_code, result.stdout) == (0, "hello from allowed\n")


def test_python_urllib_reaches_an_allowed_host(world: EgressWorld) -> None:
    """Python's urllib (what pip-style tools use) honours the proxy variables."""
    code = "import urllib.request as u; print(u.urlopen('http://allowed.test/hello.txt').read())"
    result = world.run(["python3", "-c", code])
    assert (result.exit_code, result.stdout) == (0, "b'hello from allowed\\n'\n")


def test_denied_host_gets_403_naming_the_rule(world: EgressWorld) -> None:
    """A host not on the list gets 403 whose body names the default-deny rule and the list."""
    result = world.run(["curl", "-sS", "-w", "\\n%{http_code}", "http://evil.test/hello.txt"])
    body = "factoryd egress denied evil.test:80: default deny: evil.test:80 is not in allow"
    assert result.stdout == f"{body} [allowed.test]\n\n403"
    assert world.evil.accepted == 0


def test_denied_connect_gets_403_and_reaches_nothing(world: EgressWorld) -> None:
    """An HTTPS request to a denied host is refused at CONNECT with 403; no server is reached."""
    result = world.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_connect}", "https://evil.test/"]
    )
    assert (result.exit_code, result.stdout, world.evil.accepted) == (56, "403", 0)


def test_allowed_and_denied_requests_are_recorded(world: EgressWorld) -> None:
    """Each request ends in one record with host, port, bytes and decision."""
    world.sh("curl -s http://allowed.test/hello.txt; curl -s http://evil.test/")
    got = [(r.host, r.port, r.decision, r.bytes_down > 0) for r in world.proxy.records]
    assert got == [("allowed.test", 80, "allowed", True), ("evil.test", 80, "denied", False)]


def test_git_clone_over_http_through_the_proxy(world: EgressWorld, tmp_path: Path) -> None:
    """git clone http://allowed.test/repo.git works through the proxy (git's http.proxy)."""
    src = tmp_path / "src"
    subprocess.run(["git", "init", "-q", "-b", "main", str(src)], check=True)
    (src / "README").write_text("cloned through the proxy\n")
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    bare = world.root / "repo.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    result = world.sh("git clone -q http://allowed.test/repo.git out && cat out/README")
    assert (result.exit_code, result.stdout) == (0, "cloned through the proxy\n")


def test_pip_download_from_an_allowed_index(world: EgressWorld) -> None:
    """pip download fetches a wheel from an HTTPS simple index on an allowed host (PIP_PROXY)."""
    wheel = "tinypkg-1.0-py3-none-any.whl"
    make_wheel(world.root / wheel)
    index = world.root / "simple" / "tinypkg"
    index.mkdir(parents=True)
    (index / "index.html").write_text(f'<a href="../../{wheel}">{wheel}</a>\n')
    result = world.run([*PIP_DOWNLOAD, "--index-url", "https://allowed.test/simple/", "tinypkg"])
    assert (result.exit_code, sorted(p.name for p in (world.workspace / "dl").iterdir())) == (
        0,
        [wheel],
    )


def make_wheel(path: Path) -> None:
    """Write a minimal valid wheel for tinypkg 1.0."""
    import zipfile

    info = "tinypkg-1.0.dist-info"
    files = {
        "tinypkg/__init__.py": "",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
