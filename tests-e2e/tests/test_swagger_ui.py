"""Each service's Swagger UI, served through the gateway, renders its operations in a browser."""

import re

import pytest
from e2e.browser import chromium_binary, dump_dom
from e2e.ci import in_ci
from e2e.stack import Stack

KNOWN_PATHS = {
    "identity": ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/users/me"],
    "items": ["/api/v1/items", "/api/v1/items/{item_id}"],
}


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        reason = "chromium not found (apt-get install -y chromium)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return binary


@pytest.mark.parametrize("service", KNOWN_PATHS)
def test_swagger_ui_renders_the_operations_of_the_service(
    stack: Stack, chromium: str, service: str
) -> None:
    dom = dump_dom(chromium, f"{stack.base_url}/docs/{service}")

    operations = re.findall(r'class="opblock opblock-(?:get|post|patch|put|delete)\b', dom)
    rendered_paths = set(re.findall(r'data-path="([^"]+)"', dom))
    assert len(operations) >= len(KNOWN_PATHS[service]), dom[-3000:]
    assert set(KNOWN_PATHS[service]) <= rendered_paths, sorted(rendered_paths)
