"""Pure logic the copy orchestrators call: no I/O, no clock reads, no `azure.functions` import.

Why a separate package: orchestrator code must be deterministic and is replayed many times, so every decision it
makes (what to validate, when to poll next, whether to retry or re-authorize, what to show as progress, what to
return) lives here as plain functions over plain values, unit-tested without a host.

Modules:
* `policy`   — `CopyPolicy`: the tuning settings frozen into orchestration input so replays see the same values.
* `plan`     — the one request validation (`read_body`, `plan_request`, `RequestError`: body limits, fields,
               aliases; model-id rules come from `ferry.generations`).
* `ids`      — instance ids: request prefix + run number (every run kept), Event Grid events, child per target.
* `polling`  — when to poll next (first after ~1 s, backing off with elapsed time, honouring Retry-After,
               never past the deadline), transient-retry backoff, how long to watch for the copies of lost answers.
* `recovery` — what to do with a failed step (`decide_*`): retry, re-authorize, check existing model, clean up,
               fail; and the errors the child reports (`deadline_error`, `target_missing_error`, …).
* `progress` — custom-status builders kept well under the 16 KB limit.
* `outcome`  — per-target results, the parent's aggregate output, the child-failure marker.
* `events`   — `ModelTrained` event parsing (Event Grid schema and CloudEvents 1.0).
"""
