"""SQLite store (WAL) of the durable engine: instances, history, pending messages, activity work items, timers,
entities and their queued operations.

Why SQLite/WAL: every state change of an episode, an activity completion or a timer firing is one transaction, so
the host can be killed with SIGKILL at any moment and restart on the same file: a message is consumed exactly
when its effects are written, a completed activity's work item is deleted in the same transaction that enqueues
its ``TaskCompleted`` (never re-run), and a work item still marked running at start-up is re-queued (at least once).

The store is a plain data-access layer: one connection guarded by a re-entrant lock, explicit transactions via
``with store.tx():``. Rows are returned as ``sqlite3.Row``; events are stored as JSON text.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY, name TEXT NOT NULL, execution_id TEXT NOT NULL, status TEXT NOT NULL,
    input TEXT, output TEXT, custom_status TEXT, created REAL NOT NULL, updated REAL NOT NULL,
    parent_instance_id TEXT, parent_execution_id TEXT, parent_task_id INTEGER, parent_name TEXT, failure TEXT);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (instance_id, seq));
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT,
    event_type INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_instance ON messages(instance_id, id);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL, fire_at REAL NOT NULL, fire_at_text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS timers_due ON timers(fire_at);
CREATE TABLE IF NOT EXISTS work_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT, state TEXT NOT NULL DEFAULT 'pending',
    runs INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL, state TEXT, exists_ INTEGER NOT NULL,
    updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entity_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, entity_id TEXT NOT NULL, request TEXT NOT NULL);
"""

CONTROL_TYPES = (3, 19, 20)  # ExecutionTerminated, ExecutionSuspended, ExecutionResumed


class Store:
    """Thread-safe access to one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL+NORMAL survives a process kill
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction (nested uses join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def q(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple | list = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.conn.execute(sql, args).fetchone()

    def x(self, sql: str, args: tuple | list = ()) -> int:
        with self._lock:
            return self.conn.execute(sql, args).rowcount

    # ------------------------------------------------------------------------------------------ instances
    def instance(self, instance_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM instances WHERE instance_id=?", (instance_id,))

    def history(self, instance_id: str) -> list[dict]:
        rows = self.q("SELECT event FROM history WHERE instance_id=? ORDER BY seq", (instance_id,))
        return [json.loads(r["event"]) for r in rows]

    def append_history(self, instance_id: str, events: list[dict]) -> None:
        row = self.one("SELECT COALESCE(MAX(seq), -1) AS m FROM history WHERE instance_id=?", (instance_id,))
        start = (row["m"] if row else -1) + 1
        with self._lock:
            self.conn.executemany("INSERT INTO history(instance_id, seq, event) VALUES (?,?,?)",
                                  [(instance_id, start + i, json.dumps(e)) for i, e in enumerate(events)])

    def delete_instance_data(self, instance_id: str, *, keep_instance: bool = False) -> None:
        """Remove history, queued messages, timers and work items (and the instance row unless kept)."""
        for table in ("history", "messages", "timers", "work_items"):
            self.x(f"DELETE FROM {table} WHERE instance_id=?", (instance_id,))  # noqa: S608 (fixed names)
        if not keep_instance:
            self.x("DELETE FROM instances WHERE instance_id=?", (instance_id,))

    def drop_pending_work(self, instance_id: str) -> None:
        """A finished execution needs no more timers or activities (running ones are discarded on completion)."""
        self.x("DELETE FROM timers WHERE instance_id=?", (instance_id,))
        self.x("DELETE FROM work_items WHERE instance_id=? AND state='pending'", (instance_id,))

    # ------------------------------------------------------------------------------------------ messages
    def enqueue(self, instance_id: str, event: dict, execution_id: str | None = None) -> None:
        self.x("INSERT INTO messages(instance_id, execution_id, event_type, event) VALUES (?,?,?,?)",
               (instance_id, execution_id, event["EventType"], json.dumps(event)))

    def messages(self, instance_id: str) -> list[sqlite3.Row]:
        return self.q("SELECT * FROM messages WHERE instance_id=? ORDER BY id", (instance_id,))

    def runnable_instances(self, exclude: set[str], limit: int) -> list[str]:
        """Instances with messages they can process now (a suspended one only takes resume/terminate)."""
        rows = self.q(
            "SELECT m.instance_id, MIN(m.id) AS first FROM messages m LEFT JOIN instances i USING(instance_id) "
            "WHERE i.status IS NULL OR i.status != 'Suspended' OR m.event_type IN (3, 20) "
            "GROUP BY m.instance_id ORDER BY first")
        out = [r["instance_id"] for r in rows if r["instance_id"] not in exclude]
        return out[:limit]

    # ------------------------------------------------------------------------------------------ timers
    def due_timers(self, now: float) -> list[sqlite3.Row]:
        """Timers due at ``now`` (1 ms tolerance: fire times travel as µs text, clocks as floats)."""
        return self.q("SELECT * FROM timers WHERE fire_at <= ? ORDER BY fire_at, id", (now + 0.001,))

    def next_timer(self) -> float | None:
        row = self.one("SELECT MIN(fire_at) AS t FROM timers")
        return row["t"] if row and row["t"] is not None else None

    # ------------------------------------------------------------------------------------------ work items
    def claim_work_items(self, limit: int) -> list[sqlite3.Row]:
        with self.tx():
            rows = self.q("SELECT * FROM work_items WHERE state='pending' ORDER BY id LIMIT ?", (limit,))
            for r in rows:
                self.x("UPDATE work_items SET state='running', runs=runs+1 WHERE id=?", (r["id"],))
        return rows

    def requeue_running(self) -> int:
        """At start-up: whatever was running when the host died runs again (at least once)."""
        return self.x("UPDATE work_items SET state='pending' WHERE state='running'")

    def counts(self) -> dict[str, Any]:
        row = self.one(
            "SELECT (SELECT COUNT(*) FROM messages) AS messages, "
            "(SELECT COUNT(*) FROM work_items WHERE state='pending') AS pending_work, "
            "(SELECT COUNT(*) FROM work_items WHERE state='running') AS running_work, "
            "(SELECT COUNT(*) FROM timers) AS timers, (SELECT COUNT(*) FROM entity_messages) AS entity_messages")
        return dict(row) if row else {}

    # ------------------------------------------------------------------------------------------ entities
    def runnable_entities(self, exclude: set[str], limit: int) -> list[str]:
        rows = self.q("SELECT entity_id, MIN(id) AS first FROM entity_messages GROUP BY entity_id ORDER BY first")
        return [r["entity_id"] for r in rows if r["entity_id"] not in exclude][:limit]

    def entity(self, entity_id: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM entities WHERE entity_id=?", (entity_id,))
