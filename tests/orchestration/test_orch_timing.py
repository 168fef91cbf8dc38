"""Polling schedule, transient backoff, deadline clamping and the frozen policy."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from ferry import settings as ferry_settings
from ferry.orchestration.policy import CopyPolicy
from ferry.orchestration.polling import deadline_at, next_fire_at, poll_delay, transient_delay

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_first_poll_after_about_a_second_then_backing_off_to_the_cap():
    policy = CopyPolicy(poll_initial_seconds=1, poll_backoff_factor=1.2, poll_max_seconds=15)
    delays = [poll_delay(policy, n) for n in range(1, 40)]
    assert delays[0] == 1
    assert all(b >= a for a, b in pairwise(delays))
    assert delays[1] == pytest.approx(1.2) and delays[-1] == 15
    # a copy finishing within ~5 s is noticed within about a second
    assert max(delays[:5]) < 2.1


def test_retry_after_replaces_the_schedule_but_never_busy_loops():
    policy = CopyPolicy()
    assert poll_delay(policy, 1, retry_after=7) == 7
    assert poll_delay(policy, 30, retry_after=2) == 2
    assert poll_delay(policy, 1, retry_after=0) == 0.25


def test_transient_backoff_follows_the_service_guidance_and_honours_retry_after():
    assert [transient_delay(n) for n in range(1, 7)] == [2, 5, 13, 34, 60, 60]
    assert transient_delay(1, retry_after=9) == 9
    assert transient_delay(3, retry_after=1) == 13


def test_timers_never_pass_the_deadline():
    policy = CopyPolicy(deadline_seconds=60)
    deadline = deadline_at(T0, policy)
    assert deadline == T0 + timedelta(seconds=60)
    assert next_fire_at(T0, 5, deadline) == T0 + timedelta(seconds=5)
    assert next_fire_at(T0 + timedelta(seconds=58), 5, deadline) == deadline
    assert next_fire_at(deadline, 1, deadline) is None


def test_policy_round_trips_and_rejects_nonsense():
    p = CopyPolicy(deadline_seconds=90, max_parallel_targets=2, allow_cmk_degrade=True)
    assert CopyPolicy.from_dict(p.to_dict()) == p
    assert CopyPolicy.from_dict({"unknown": 1}) == CopyPolicy()
    with pytest.raises(ValueError, match="poll_max_seconds"):
        CopyPolicy(poll_initial_seconds=10, poll_max_seconds=5)


def test_policy_from_real_settings():
    env = {
        "FERRY_RESOURCES": '{"a": {"endpoint": "http://127.0.0.1:1", "region": "eastus", "resourceId": '
                           '"/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a", '
                           '"apiVersion": "2024-11-30"}}',
        "FERRY_COPY_DEADLINE_SECONDS": "120", "FERRY_POLL_BACKOFF_FACTOR": "2", "FERRY_MAX_PARALLEL_TARGETS": "3",
        "FERRY_ALLOW_CMK_DEGRADE": "true", "FERRY_MAX_AUTHORIZATION_ATTEMPTS": "5",
    }
    p = CopyPolicy.from_settings(ferry_settings.parse(env))
    assert (p.deadline_seconds, p.poll_backoff_factor, p.max_parallel_targets) == (120, 2, 3)
    assert p.allow_cmk_degrade and p.max_authorization_attempts == 5


def test_cleanup_hints_only_claim_a_removal_that_happened():
    from ferry.orchestration import recovery

    assert "was removed" in recovery.deadline_error(60, "running", removed=True).hint
    kept = recovery.deadline_error(60, "running", removed=False, target_model_id="m1").hint
    assert "was removed" not in kept and "'m1'" in kept
    assert "Nothing was left" in recovery.deadline_error(60, None).hint
    assert "was removed" in recovery.target_invalid_error("west", "m1", removed=True).hint
    assert "Delete the invalid model 'm1'" in recovery.target_invalid_error("west", "m1", removed=False).hint
