"""Each service's Swagger UI, served through the gateway, renders its operations in a browser
under the gateway's Content-Security-Policy without the browser blocking anything."""

import re
from urllib.parse import quote

import pytest
from e2e.browser import LoadedPage, chromium_binary, load_page
from e2e.stack import Stack

from service_kit_testing.required import skip_unless_required

KNOWN_PATHS = {
    "identity": ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/users/me"],
    "items": ["/api/v1/items", "/api/v1/items/{item_id}"],
}
# A page that breaks its own policy: what the console capture must report.
VIOLATING_PAGE = (
    "<meta http-equiv='Content-Security-Policy' content=\"script-src 'none'\">"
    "<script>document.title = 'ran';</script>"
)


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        skip_unless_required("chromium not found (apt-get install -y chromium)")
    return binary


@pytest.fixture(scope="module")
def docs_pages(stack: Stack, chromium: str) -> dict[str, LoadedPage]:
    return {
        service: load_page(chromium, f"{stack.base_url}/docs/{service}") for service in KNOWN_PATHS
    }


@pytest.mark.parametrize("service", KNOWN_PATHS)
def test_swagger_ui_renders_the_operations_of_the_service(
    docs_pages: dict[str, LoadedPage], service: str
) -> None:
    dom = docs_pages[service].dom

    operations = re.findall(r'class="opblock opblock-(?:get|post|patch|put|delete)\b', dom)
    rendered_paths = set(re.findall(r'data-path="([^"]+)"', dom))
    assert len(operations) >= len(KNOWN_PATHS[service]), dom[-3000:]
    assert set(KNOWN_PATHS[service]) <= rendered_paths, sorted(rendered_paths)


@pytest.mark.parametrize("service", KNOWN_PATHS)
def test_swagger_ui_runs_without_a_content_security_policy_violation(
    docs_pages: dict[str, LoadedPage], service: str
) -> None:
    page = docs_pages[service]

    assert page.csp_violations == [], page.console


def test_console_capture_reports_a_content_security_policy_violation(chromium: str) -> None:
    page = load_page(chromium, "data:text/html," + quote(VIOLATING_PAGE))

    assert page.csp_violations, page.console
