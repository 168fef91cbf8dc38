"""Lost answers to the copy POST (v2: a re-issue gets a new target id) driven through the fake durable runtime.

A tiny simulated target decides what `get_target_model` / `delete_target_model` see: the copy of a lost POST
lands at a chosen virtual time (or never), so adoption, cleanup and the bounded watch are all observable.
"""

from fake_durable import run_orchestrator, seconds_between

from CopyOrchestrator.child import MAX_LOST_CHECKS, copy_model_to_target
from ferry.errors import FerryError
from ferry.orchestration.outcome import TargetCopyFailed
from ferry.orchestration.policy import CopyPolicy

FP = {"generation": "v2", "createdDateTime": "2026-01-01T00:00:00Z", "digest": "abc"}
POLICY = CopyPolicy(deadline_seconds=600, max_authorization_attempts=3, max_transient_retries=3)
SOURCE_ID = "11111111-1111-1111-1111-111111111111"
LOST, KEPT = "aaaaaaaa-0000-0000-0000-00000000000a", "bbbbbbbb-0000-0000-0000-00000000000b"


def ok(value):
    return {"ok": True, "value": value}


def lost_answer(target_model_id=LOST):
    return {"ok": False, "error": FerryError(kind="transient", code="ConnectionError", message="connection lost",
                                             hint="h", target_model_id=target_model_id).to_dict()}


class Target:
    """The target resource: model id → (ready at offset seconds from the start)."""

    def __init__(self, rec_holder, lands):
        self.rec_holder = rec_holder
        self.lands = dict(lands)  # id -> seconds after start when the model appears (None: never)
        self.deleted = []
        self.hidden = set()  # ids whose copy is not started yet (a killed execution's POST, still to come)

    def _now(self):
        rec = self.rec_holder[0]
        return (rec.now - rec.start).total_seconds()

    def get(self, step):
        at = self.lands.get(step["targetModelId"])
        if at is None or self._now() < at:
            return ok({"exists": False, "modelId": step["targetModelId"], "fingerprint": None, "status": None})
        return ok({"exists": True, "modelId": step["targetModelId"], "fingerprint": FP, "status": "ready"})

    def delete(self, step):
        present = self.get(step)["value"]["exists"]
        if present:
            self.lands.pop(step["targetModelId"])
            self.deleted.append(step["targetModelId"])
        return ok({"deleted": present})

    def ids(self):
        return sorted(i for i, at in self.lands.items() if at is not None and self._now() >= at)

    def creating(self):
        return sorted(i for i, at in self.lands.items() if at is not None and self._now() < at
                      and i not in self.hidden)


def run(lands, authorize, poll=None, killed=()):
    """`killed`: ids copied by executions of authorize_and_start_copy that were killed: their copies start with
    the first execution the orchestration sees (they were never answered, so it never learns their ids)."""
    from fake_durable import Recorder

    rec = Recorder()
    rec.start = rec.now
    holder = [rec]
    target = Target(holder, lands)
    target.hidden = set(killed)
    results = list(authorize)

    def authorize_and_start_copy(_step):
        target.hidden.clear()
        return results.pop(0) if len(results) > 1 else results[0]

    acts = {
        "check_source_model": lambda _s: ok({"ready": True, "status": "ready", "fingerprint": FP}),
        "authorize_and_start_copy": authorize_and_start_copy,
        "poll_copy": poll or (lambda _s: ok({"status": "succeeded", "targetModelId": KEPT})),
        "get_target_model": target.get,
        "delete_target_model": target.delete,
        "list_target_copies": lambda _s: ok({"ready": target.ids(), "creating": target.creating()}),
    }
    data = {"modelId": SOURCE_ID, "source": "east", "target": "west", "targetModelId": None, "apiVersion": "v2.1",
            "degrade": False, "policy": POLICY.to_dict()}
    try:
        result, _ = run_orchestrator(copy_model_to_target, data, activities=acts, instance_id="p:west",
                                     recorder=rec)
    except TargetCopyFailed as failed:
        result = failed.result
    return result, rec, target


def calls(rec, name):
    return [step for n, step in rec.activities if n == name]


STARTED = ok({"operationUrl": "http://127.0.0.1/op/2", "targetModelId": KEPT})


def test_lost_copy_landing_after_the_reissue_is_deleted_and_reported():
    # lost POST at t=0 lands at t=4; the re-issue (after the 2 s backoff) lands at once
    result, rec, target = run({LOST: 4.0, KEPT: 0.0}, [lost_answer(), STARTED])
    assert result["status"] == "succeeded" and result["targetModelId"] == KEPT
    assert result["cleanedUpTargetModelIds"] == [LOST] and target.deleted == [LOST]
    assert target.ids() == [KEPT]
    assert "adopted" not in result and "unresolvedTargetModelIds" not in result
    assert any(s.get("unconfirmedIds") == 1 for s in rec.statuses["p:west"])
    assert max(len(str(s)) for s in rec.statuses["p:west"]) < 600  # a count, not a list of ids


def test_lost_copy_landing_before_the_retry_is_adopted_and_no_second_copy_is_made():
    result, rec, target = run({LOST: 1.5}, [lost_answer(), STARTED])
    assert result["status"] == "succeeded" and result["targetModelId"] == LOST and result["adopted"] is True
    assert result["alreadyPresent"] is True
    assert len(calls(rec, "authorize_and_start_copy")) == 1 and not calls(rec, "poll_copy")
    assert target.ids() == [LOST] and not target.deleted


def test_when_the_kept_copy_fails_a_landed_lost_copy_is_adopted():
    failed_poll = ok({"status": "failed", "targetModelId": KEPT,
                      "error": {"code": "Boom", "message": "m", "hint": "h", "kind": "terminal"}})
    result, _, target = run({LOST: 2.5}, [lost_answer(), STARTED], poll=lambda _s: failed_poll)
    assert result["status"] == "succeeded" and result["targetModelId"] == LOST and result["adopted"] is True
    assert result["alreadyPresent"] is True
    assert target.ids() == [LOST]


def test_a_lost_post_the_service_never_took_is_watched_for_a_bounded_time_then_reported():
    result, rec, target = run({LOST: None, KEPT: 0.0}, [lost_answer(), STARTED])
    assert target.ids() == [KEPT]
    assert result["status"] == "succeeded" and result["targetModelId"] == KEPT
    assert result["unresolvedTargetModelIds"] == [LOST] and "cleanedUpTargetModelIds" not in result
    looks = [s for s in calls(rec, "get_target_model") if s["targetModelId"] == LOST]
    assert 2 <= len(looks) <= MAX_LOST_CHECKS + 1  # one look before the re-issue, then the bounded watch
    # re-issued at 2 s (the first backoff), landed at the first poll (3 s); then watched for as long as the kept copy
    # took (1 s) plus one polling cap, and no longer
    assert seconds_between(rec.start, rec.now) <= 3 + 1 + POLICY.poll_max_seconds


def test_every_lost_id_but_the_kept_one_is_resolved_and_failures_still_fail_cleanly():
    second_lost = "cccccccc-0000-0000-0000-00000000000c"
    failed_poll = ok({"status": "failed", "targetModelId": KEPT,
                      "error": {"code": "Boom", "message": "m", "hint": "h", "kind": "terminal"}})
    # two lost answers, neither copy ever lands, and the kept copy fails: a clean failure with the service error
    result, _, target = run({LOST: None, second_lost: None},
                            [lost_answer(), lost_answer(second_lost), STARTED], poll=lambda _s: failed_poll)
    assert result["status"] == "failed" and result["error"]["code"] == "Boom"
    assert result["unresolvedTargetModelIds"] == [LOST, second_lost] and not target.deleted


# ------------------------------------------------------- v2: copies made by an interrupted (killed) execution

OLD, DUP_LOW, DUP_HIGH = ("00000000-0000-0000-0000-000000000001", "aaaaaaaa-1111-0000-0000-000000000000",
                          "cccccccc-1111-0000-0000-000000000000")


def test_a_copy_made_by_a_killed_execution_is_deleted_and_an_older_copy_is_left_alone():
    # OLD: a copy from an earlier run (there before this run); DUP_HIGH: the copy a killed execution made
    result, rec, target = run({OLD: 0.0, DUP_HIGH: 0.5, KEPT: 0.0}, [STARTED], killed=[DUP_HIGH])
    assert result["status"] == "succeeded" and result["targetModelId"] == KEPT
    assert result["cleanedUpTargetModelIds"] == [DUP_HIGH] and target.ids() == [OLD, KEPT]
    before = calls(rec, "list_target_copies")[0]
    assert before["fingerprint"] == FP and before["target"] == "west"


def test_a_killed_executions_copy_still_landing_is_waited_for_then_deleted():
    result, rec, target = run({DUP_HIGH: 6.0, KEPT: 0.0}, [STARTED], killed=[DUP_HIGH])
    assert result["status"] == "succeeded" and result["targetModelId"] == KEPT
    assert result["cleanedUpTargetModelIds"] == [DUP_HIGH] and target.ids() == [KEPT]
    assert seconds_between(rec.start, rec.now) >= 6.0  # watched until it landed


def test_duplicates_converge_on_the_smallest_id_so_racing_runs_keep_the_same_model():
    result, _, target = run({DUP_LOW: 0.5, KEPT: 0.0}, [STARTED], killed=[DUP_LOW])
    assert result["status"] == "succeeded" and result["targetModelId"] == DUP_LOW
    assert result["cleanedUpTargetModelIds"] == [KEPT] and target.ids() == [DUP_LOW]


def test_when_the_kept_copy_fails_a_copy_made_by_a_killed_execution_is_adopted():
    failed_poll = ok({"status": "failed", "targetModelId": KEPT,
                      "error": {"code": "Boom", "message": "m", "hint": "h", "kind": "terminal"}})
    result, _, target = run({DUP_HIGH: 0.5}, [STARTED], poll=lambda _s: failed_poll, killed=[DUP_HIGH])
    assert result["status"] == "succeeded" and result["targetModelId"] == DUP_HIGH and result["adopted"] is True
    assert target.ids() == [DUP_HIGH]


def test_when_the_kept_copy_fails_and_no_other_copy_appeared_the_failure_is_reported():
    failed_poll = ok({"status": "failed", "targetModelId": KEPT,
                      "error": {"code": "Boom", "message": "m", "hint": "h", "kind": "terminal"}})
    result, rec, target = run({}, [STARTED], poll=lambda _s: failed_poll)
    assert result["status"] == "failed" and result["error"]["code"] == "Boom" and target.ids() == []
    assert len(calls(rec, "list_target_copies")) == 2  # before the copy, and once more after it failed
