"""The limits store of ``lambdagate serve``: SQLite from the standard library, a file or in memory.

Each admission is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so several processes
sharing the file are serialised exactly like conditional writes on DynamoDB): read the window and
the minute, check the limits, write. Spend is kept in nano-dollars (integers), so sums are exact.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from lambdagate.config.schema import Team
from lambdagate.limits.errors import StoreError
from lambdagate.limits.store import Claim, Grant, Refusal, Settlement, Subject, SubjectUsage, WindowUsage
from lambdagate.limits.windows import budget_window, minute_of

T = TypeVar("T")
NANO = Decimal(1_000_000_000)
SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (pk TEXT NOT NULL, window TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0, spend_nusd INTEGER NOT NULL DEFAULT 0, expires INTEGER,
    PRIMARY KEY (pk, window));
CREATE TABLE IF NOT EXISTS minutes (pk TEXT NOT NULL, minute INTEGER NOT NULL, requests INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (pk, minute));
CREATE TABLE IF NOT EXISTS teams (name TEXT PRIMARY KEY, record TEXT NOT NULL);
"""


def to_nano(amount: Decimal) -> int:
    return int((amount * NANO).to_integral_value())


def from_nano(value: int) -> Decimal:
    return Decimal(value) / NANO


class SqliteStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.blocking = path != ":memory:"
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            if self.blocking:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite limits store {path}: {exc}") from None

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(self._db)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite limits store: {exc}") from None

    # --- the request path ----------------------------------------------------------------------

    def admit(self, claim: Claim, now: float) -> Grant:
        subject = claim.subject

        def work(db: sqlite3.Connection) -> Grant:
            row = db.execute("SELECT spend_nusd FROM windows WHERE pk = ? AND window = ?",
                             (subject.pk, claim.window.id)).fetchone()
            spend = from_nano(row[0]) if row else Decimal(0)
            minute = db.execute("SELECT requests, tokens FROM minutes WHERE pk = ? AND minute = ?",
                                (subject.pk, claim.minute)).fetchone() or (0, 0)
            if subject.max_budget is not None and spend >= subject.max_budget:
                raise Refusal(claim, "budget", spend)
            if subject.rpm is not None and minute[0] >= subject.rpm:
                raise Refusal(claim, "rpm", minute[0])
            if subject.tpm is not None and minute[1] > max(subject.tpm - claim.tokens, 0):
                raise Refusal(claim, "tpm", minute[1])
            db.execute("INSERT INTO windows (pk, window, requests, expires) VALUES (?, ?, 1, ?) "
                       "ON CONFLICT (pk, window) DO UPDATE SET requests = requests + 1",
                       (subject.pk, claim.window.id, claim.window.expires))
            if subject.per_minute:
                db.execute("INSERT INTO minutes (pk, minute, requests, tokens) VALUES (?, ?, 1, ?) "
                           "ON CONFLICT (pk, minute) DO UPDATE SET requests = requests + 1, tokens = tokens + ?",
                           (subject.pk, claim.minute, claim.tokens, claim.tokens))
                db.execute("DELETE FROM minutes WHERE pk = ? AND minute < ?", (subject.pk, claim.minute - 1))
            return Grant(claim)

        return self._transaction(work)

    def undo(self, grant: Grant) -> None:
        claim = grant.claim

        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE windows SET requests = requests - 1 WHERE pk = ? AND window = ?",
                       (claim.subject.pk, claim.window.id))
            db.execute("UPDATE minutes SET requests = requests - 1, tokens = tokens - ? WHERE pk = ? AND minute = ?",
                       (claim.tokens, claim.subject.pk, claim.minute))

        self._transaction(work)

    def settle(self, settlement: Settlement) -> None:
        claim = settlement.claim

        def work(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO windows (pk, window, requests, tokens, spend_nusd, expires) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pk, window) DO UPDATE SET "
                       "requests = requests + excluded.requests, "
                       "tokens = tokens + excluded.tokens, spend_nusd = spend_nusd + excluded.spend_nusd",
                       (claim.subject.pk, claim.window.id, int(settlement.count_request), settlement.tokens,
                        to_nano(settlement.cost), claim.window.expires))
            if settlement.minute_delta:
                db.execute("UPDATE minutes SET tokens = tokens + ? WHERE pk = ? AND minute = ?",
                           (settlement.minute_delta, claim.subject.pk, claim.minute))

        self._transaction(work)

    # --- teams and reports -----------------------------------------------------------------------

    def team(self, name: str) -> Team | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM teams WHERE name = ?", (name,)).fetchone()
        return Team.model_validate_json(row[0]) if row else None

    def put_team(self, team: Team) -> None:
        self._transaction(lambda db: db.execute(
            "INSERT INTO teams (name, record) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET record = excluded.record",
            (team.name, team.model_dump_json(exclude_none=True))))

    def delete_team(self, name: str) -> bool:
        return self._transaction(lambda db: db.execute("DELETE FROM teams WHERE name = ?", (name,)).rowcount > 0)

    def teams(self) -> list[Team]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM teams ORDER BY name").fetchall()
        return [Team.model_validate_json(row[0]) for row in rows]

    def usage(self, subject: Subject, now: float) -> SubjectUsage:
        window = budget_window(subject.budget_duration, now)
        with self._lock:
            rows = self._db.execute("SELECT window, requests, tokens, spend_nusd FROM windows WHERE pk = ? "
                                    "ORDER BY window", (subject.pk,)).fetchall()
            minute = self._db.execute("SELECT requests, tokens FROM minutes WHERE pk = ? AND minute = ?",
                                      (subject.pk, minute_of(now))).fetchone() or (0, 0)
        windows = {row[0]: WindowUsage(row[0], row[1], row[2], from_nano(row[3])) for row in rows}
        current = windows.pop(window.id, WindowUsage(window.id))
        return SubjectUsage(current, minute[0], minute[1], tuple(windows.values()))


__all__ = ["SqliteStore"]
