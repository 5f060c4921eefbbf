"""The one skip-or-fail rule for a missing test dependency: a skip on a developer's machine, a
failure under CI or where the dependency's REQUIRE_* variable asks for it."""

import pytest
from _pytest.outcomes import Failed, Skipped

from service_kit_testing.required import skip_unless_required


def test_a_missing_dependency_is_a_skip_where_nothing_requires_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("REQUIRE_THING", raising=False)

    with pytest.raises(Skipped, match="no thing here"):
        skip_unless_required("no thing here", variable="REQUIRE_THING")


@pytest.mark.parametrize(
    ("variable", "value", "by"), [("CI", "true", "CI"), ("REQUIRE_THING", "1", "REQUIRE_THING")]
)
def test_a_missing_dependency_fails_the_run_under_ci_or_its_require_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, by: str
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("REQUIRE_THING", raising=False)
    monkeypatch.setenv(variable, value)

    with pytest.raises(Failed, match=f"no thing here \\({by} requires it\\)"):
        skip_unless_required("no thing here", variable="REQUIRE_THING")
