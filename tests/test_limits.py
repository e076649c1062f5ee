"""Per-user and per-key job limits are enforced by the service (the bot and the API only word them),
and each channel tells an outcome once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dreamreel.errors import LimitExceeded
from dreamreel.service import DreamService
from dreamreel.settings import load_settings
from dreamreel.wiring import build_service
from tests.helpers import fast_env

CALM = "I dreamt of a quiet harbour at dawn."


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[DreamService]:
    fast_env(monkeypatch)
    svc = build_service(load_settings(bot_max_active_jobs=2, bot_jobs_per_hour=3, api_jobs_per_hour=2))
    yield svc
    svc.close()


def test_a_telegram_user_may_have_so_many_jobs_working_and_so_many_an_hour(service: DreamService) -> None:
    for _ in range(2):
        service.submit_diary(CALM, channel="telegram", user="7", run=False, limited=True)
    with pytest.raises(LimitExceeded) as refused:
        service.submit_diary(CALM, channel="telegram", user="7", run=False, limited=True)
    assert (refused.value.kind, refused.value.count, refused.value.limit) == ("active", 2, 2)
    assert "2 jobs being made at once, at most 2" in refused.value.user_message("en")
    service.check_limits("telegram", "70")  # another user ("7" is not a prefix match)

    first = service.list_jobs(channel="telegram", user="7")[-1]
    service.run_job(first.job_id)  # one finishes: a slot is free, but the hour counts all three
    service.submit_diary(CALM, channel="telegram", user="7", run=False, limited=True)
    service.run_job(service.list_jobs(channel="telegram", user="7")[0].job_id)
    with pytest.raises(LimitExceeded) as hourly:
        service.check_limits("telegram", "7")
    assert (hourly.value.kind, hourly.value.count, hourly.value.limit) == ("hourly", 3, 3)


def test_an_api_key_counts_all_its_users_and_a_retry_is_no_new_job(service: DreamService) -> None:
    first = service.submit_diary(CALM, channel="api", user="k1:a", idempotency_key="api:k1:x", run=False,
                                 limited=True, api_key_prefix="k1:")
    service.submit_diary(CALM, channel="api", user="k1:b", run=False, limited=True, api_key_prefix="k1:")
    with pytest.raises(LimitExceeded) as refused:
        service.submit_diary(CALM, channel="api", user="k1:c", run=False, limited=True, api_key_prefix="k1:")
    assert (refused.value.kind, refused.value.count, refused.value.limit) == ("hourly", 2, 2)
    again = service.submit_diary(CALM, channel="api", user="k1:a", idempotency_key="api:k1:x", run=False,
                                 limited=True, api_key_prefix="k1:")
    assert again.job_id == first.job_id
    service.submit_diary(CALM, channel="api", user="k2:a", run=False, limited=True, api_key_prefix="k2:")


def test_unlimited_submissions_and_the_command_line_are_not_refused(service: DreamService) -> None:
    for _ in range(4):
        service.submit_diary(CALM, channel="telegram", user="8", run=False)  # e.g. a resubmission by an admin
        service.submit_diary(CALM, user="local", run=False, limited=True)  # cli: no limits
    assert len(service.list_jobs(channel="cli")) == 4


def test_an_outcome_is_told_once_per_channel_and_only_when_taken(service: DreamService) -> None:
    from dreamreel.payloads import CallbackData, DeliveryData

    job = service.submit_diary(CALM, channel="api", user="k3:a", run=False)
    done = service.run_job(job.job_id)
    assert done.status == "done"
    event = [e for e in service.events(job.job_id) if e.kind == "state"][-1]
    assert not service.outcome_told(job.job_id, event.id, "done", DeliveryData)
    attempt = CallbackData(url="https://x.test/h", attempt=1, state="done", delivery="d", ok=False, status=500)
    service.record_event(job.job_id, "callback attempt 1", attempt)
    assert not service.outcome_told(job.job_id, event.id, "done", CallbackData)  # not taken: tell again
    service.record_event(job.job_id, "callback attempt 2", attempt.model_copy(update={"ok": True, "status": 200}))
    assert service.outcome_told(job.job_id, event.id, "done", CallbackData)
    assert not service.outcome_told(job.job_id, event.id, "done", DeliveryData)  # another channel's own count
    service.record_event(job.job_id, "done sent", DeliveryData(chat_id=5, state="done", event=event.id))
    assert service.outcome_told(job.job_id, event.id, "done", DeliveryData)
    assert not service.outcome_told(job.job_id, event.id, "failed", DeliveryData)
