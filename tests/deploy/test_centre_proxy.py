"""The reverse proxy the operator guide puts in front of the centre ("Running the centre", step 6), for real: the
guide's own nginx site, taken from docs/operator-guide.md as it is printed, with a certificate of the test's own
CA, a free port and the centre's port put in, before a real `evaluator centre serve`. Through it: the health
check over TLS; /metrics refused (it needs no token: scraped on the centre's own port); the console's cookies
marked Secure (the centre trusts the proxy's X-Forwarded-Proto); a terminal's enrollment and signed upload,
stored once.
"""
from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.centre.alertkit import make_certs
from tests.centre.conftest import TIMEOUT, Collector, Device, free_port, start_centre

from .conftest import REPO, require

GUIDE = REPO / "docs/operator-guide.md"


def guide_site() -> str:
    """The nginx `server { … }` block of the guide, dedented, as printed."""
    text = GUIDE.read_text(encoding="utf-8")
    found = re.search(r"^( +)server \{\n.*?^\1\}\n", text, re.MULTILINE | re.DOTALL)
    assert found, "docs/operator-guide.md prints no nginx server block"
    indent = len(found.group(1))
    return "".join(line[indent:] for line in found.group(0).splitlines(keepends=True))


def site_for_test(site: str, port: int, certs: Path, centre_port: int) -> str:
    """The guide's site with this test's address, certificate and centre: each replaced line must be there."""
    for printed, ours in (("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
                          ("ssl_certificate     /etc/ssl/pingjia.pem;", f"ssl_certificate {certs / 'server.pem'};"),
                          ("ssl_certificate_key /etc/ssl/private/pingjia.key;",
                           f"ssl_certificate_key {certs / 'server.key'};"),
                          ("proxy_pass http://127.0.0.1:8600;", f"proxy_pass http://127.0.0.1:{centre_port};")):
        assert printed in site, f"the guide's site no longer says {printed!r}"
        site = site.replace(printed, ours)
    return site


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[Collector]:
    with start_centre(f"sqlite:///{tmp_path / 'centre.db'}", strict=True) as served:
        yield served


@pytest.fixture
def proxy(centre: Collector, tmp_path: Path) -> Iterator[str]:
    """nginx with the guide's site before `centre`, on a free port; its https:// address."""
    nginx = require("nginx")
    folder = tmp_path / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(parents=True)
        (folder / sub).chmod(0o777)        # nginx's workers run as nobody when started as root
    make_certs(folder)
    port = free_port()
    centre_port = int(centre.url.rsplit(":", 1)[1])
    temp = " ".join(f"{sub}_temp_path {folder / sub};" for sub in ("fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"daemon off;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nevents {{}}\nhttp {{\n"
        f"access_log {folder / 'access.log'};\nclient_body_temp_path {folder / 'body'};\n"
        f"proxy_temp_path {folder / 'proxy'};\n{temp}\n"
        + site_for_test(guide_site(), port, folder, centre_port) + "}\n", encoding="utf-8")
    process = subprocess.Popen([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, f"nginx did not start:\n{process.communicate()[0]}"
            try:
                requests.get(url + "/healthz", verify=folder / "ca.pem", timeout=TIMEOUT)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_guides_nginx_site_serves_the_centre_over_tls(centre: Collector, proxy: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ca = tmp_path / "nginx/ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))      # what a terminal trusting the city's CA does
    health = requests.get(proxy + "/healthz", timeout=TIMEOUT)
    assert health.status_code == 200 and health.json()["database"] == "ok"
    # The metrics stay inside: the proxy refuses them, the centre's own port serves them.
    assert requests.get(proxy + "/metrics", timeout=TIMEOUT).status_code == 403
    assert requests.get(centre.url + "/metrics", timeout=TIMEOUT).status_code == 200
    # The console's cookies are Secure behind https (X-Forwarded-Proto), and only there.
    assert "secure" in requests.get(proxy + "/console/login", timeout=TIMEOUT).headers["set-cookie"].lower()
    assert "secure" not in requests.get(centre.url + "/console/login", timeout=TIMEOUT).headers["set-cookie"].lower()
    # A terminal enrolls and uploads through the proxy: its signature holds, and the rating is stored once.
    code = centre.code("u-proxy", "c-1")
    answer = requests.post(proxy + "/v1/enroll", json={"code": code, "app_version": "0.1.0"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    device = Device(dataclasses.replace(centre, url=proxy), body["device_id"], body["secret"], body["config"],
                    "u-proxy", "c-1")
    batch = device.batch([device.rating(2)])
    for _ in range(2):        # sent again after a lost answer: acknowledged, stored once
        sent = device.ingest(batch, gzipped=True)
        assert sent.status_code == 200 and [*sent.json()["accepted"], *sent.json()["duplicate"]] == \
            [batch["ratings"][0]["uuid"]], sent.text
    assert sent.json()["duplicate"] == [batch["ratings"][0]["uuid"]]
