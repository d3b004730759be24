"""Bad answers are refused by a validator, with a message that names the question."""

from __future__ import annotations

from typing import Any

import pytest

from tests.variants import BASE, REFUSED, Refused


@pytest.mark.parametrize("case", REFUSED, ids=[r.id for r in REFUSED])
def test_refused(copie_session: Any, case: Refused) -> None:
    result = copie_session.copy(extra_answers={**BASE, **case.answers})
    assert result.exception is not None, f"{case.answers} was accepted"
    message = str(result.exception)
    for word in case.message:
        assert word in message, message


def test_slug_is_derived_from_the_name(copie_session: Any) -> None:
    result = copie_session.copy(extra_answers={"project_name": "Billing API (EU)"})
    assert result.exception is None, repr(result.exception)
    assert result.answers["project_slug"] == "billing-api-eu"
    assert (result.project_dir / "src" / "billing_api_eu" / "app.py").is_file()
