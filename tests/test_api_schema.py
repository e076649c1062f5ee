"""Property-based test of the web API against its own OpenAPI document (schemathesis 4):
generated requests, valid and invalid, must get answers the document describes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.test_api_support import KEY_A, RunningApi, api_env, running_api


@pytest.fixture(scope="module")
def openapi_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMREEL_HOME", str(tmp_path_factory.mktemp("home")))
        api_env(mp)
        with running_api(render=False) as running:
            # a job of this key, so that ids the generator tries may exist
            running.service.submit_diary("I dreamt of a lighthouse.", channel="api",
                                         user=f"{_key_id(KEY_A)}:fuzz")
            yield running


def _key_id(key: str) -> str:
    from api.security import key_id

    return key_id(key)


@pytest.fixture
def api_schema(openapi_api: RunningApi) -> schemathesis.BaseSchema:
    # the SSE stream would wait for a job that never rests (the runner is parked here)
    schema = schemathesis.openapi.from_url(f"{openapi_api.url}/openapi.json")
    return schema.exclude(path_regex=r"/events$")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_the_api_keeps_the_promises_of_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY_A}"})
