"""The portal's forms behind the gateway (deploy/kubernetes/gateway.conf): the Origin check must
accept the portal's own forms at the address the browser uses, port included.

There is no nginx here, so the test reads the headers the gateway sets from its config, works
out their values for a browser's request the way nginx does ($host drops the port, $http_host is
the header as sent; ``map`` blocks), and sends them to the portal behind uvicorn's proxy-header
middleware, as FORWARDED_ALLOW_IPS trusts the gateway in compose and Kubernetes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tests.unit.portal.conftest import PortalUnderTest

GATEWAY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "gateway.conf"
#: The gateway as it was: nginx's $host is the host name without the port.
PORT_DROPPED = ("proxy_set_header Host $forwarded_host;", "proxy_set_header Host $host;")


def nginx_value(value: str, variables: dict[str, str], maps: dict[str, tuple[str, dict[str, str]]]) -> str:
    if not value.startswith("$"):
        return value.strip('"')
    if value in maps:
        source, entries = maps[value]
        seen = nginx_value(source, variables, maps)
        chosen = next((v for k, v in entries.items() if k.strip('"') == seen and k != "default"),
                      entries["default"])
        return nginx_value(chosen, variables, maps)
    return variables[value]


def gateway_headers(config: str, browser_host: str, scheme: str = "http",
                    forwarded_proto: str = "") -> dict[str, str]:
    """What the gateway sends upstream for a request the browser sent with ``Host: browser_host``."""
    maps = {name: (source, dict(re.findall(r"(\S+)\s+(\S+);", body)))
            for source, name, body in re.findall(r"map\s+(\$\w+)\s+(\$\w+)\s*\{([^}]*)\}", config)}
    variables = {"$host": browser_host.rsplit(":", 1)[0].lower(), "$http_host": browser_host,
                 "$scheme": scheme, "$http_x_forwarded_proto": forwarded_proto}
    return {name: nginx_value(value, variables, maps)
            for name, value in re.findall(r"proxy_set_header\s+(\S+)\s+(\S+);", config)
            if name in ("Host", "X-Forwarded-Proto")}


def post_form_via_gateway(portal: PortalUnderTest, config: str, address: str, origin: str | None = None,
                          forwarded_proto: str = "") -> int:
    """The browser at ``address`` posts the portal's sign-out form; the status the portal answers."""
    scheme, _, browser_host = address.partition("://")
    headers = gateway_headers(config, browser_host, "http", forwarded_proto)
    behind_gateway = ProxyHeadersMiddleware(portal.app, trusted_hosts="*")
    with TestClient(behind_gateway, base_url="http://portal:8000", follow_redirects=False) as client:
        response = client.post("/logout", headers={**headers, "Origin": origin or address,
                                                    "X-Forwarded-For": "203.0.113.7"})
    return response.status_code


def test_the_emulation_reads_the_gateway_as_nginx_would() -> None:
    config = GATEWAY.read_text()
    assert gateway_headers(config, "127.0.0.1:8080") == {"Host": "127.0.0.1:8080",
                                                         "X-Forwarded-Proto": "http"}
    assert gateway_headers(config, "Nastavnik.example", forwarded_proto="https") == {
        "Host": "Nastavnik.example", "X-Forwarded-Proto": "https"}
    assert gateway_headers(config.replace(*PORT_DROPPED), "127.0.0.1:8080")["Host"] == "127.0.0.1"


@pytest.mark.parametrize("address, forwarded_proto", [
    ("http://127.0.0.1:8080", ""),  # compose: the gateway's published port
    ("https://nastavnik.example", "https"),  # Kubernetes: TLS ends at the ingress
    ("https://nastavnik.example:8443", "https"),
])
def test_the_portals_own_forms_pass_the_origin_check_behind_the_gateway(
        portal: PortalUnderTest, address: str, forwarded_proto: str) -> None:
    config = GATEWAY.read_text()
    assert post_form_via_gateway(portal, config, address, forwarded_proto=forwarded_proto) == 303
    # another site's form is still refused
    assert post_form_via_gateway(portal, config, address, origin="https://evil.example",
                                 forwarded_proto=forwarded_proto) == 403


def test_a_gateway_that_drops_the_port_would_refuse_every_form(portal: PortalUnderTest) -> None:
    """Why the gateway sends the browser's Host as it came: with ``Host $host`` the portal takes
    itself for http://127.0.0.1 and refuses the forms of http://127.0.0.1:8080."""
    config = GATEWAY.read_text()
    assert PORT_DROPPED[0] in config and PORT_DROPPED[1] not in config
    assert post_form_via_gateway(portal, config.replace(*PORT_DROPPED), "http://127.0.0.1:8080") == 403
