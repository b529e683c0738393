"""``lambdagate keys create --rpm ...``, ``keys usage`` and ``teams``, on SQLite (DynamoDB: test_limits_dynamodb)."""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from lambdagate.cli import main
from lambdagate.config.schema import KeyRecord, Team
from lambdagate.limits import key_subject
from lambdagate.limits.sqlite import SqliteStore
from lambdagate.limits.store import Claim, Settlement
from lambdagate.limits.windows import budget_window, minute_of


def test_keys_create_prints_an_entry_with_its_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "alice", "--models", "gpt", "--rpm", "60", "--tpm", "40000",
                 "--budget", "25.50", "--budget-duration", "monthly", "--expires", "2027-06-30T12:00:00Z",
                 "--team", "research"]) == 0
    out = capsys.readouterr().out
    key = out.split("store it now): ")[1].split()[0]
    entry = yaml.safe_load(out.split("`keys:`):\n")[1])[0]
    record = KeyRecord.model_validate(entry)
    assert record.sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert (record.rpm, record.tpm, record.max_budget, record.budget_duration, record.team) == (
        60, 40000, Decimal("25.50"), "monthly", "research")
    assert record.expires_at is not None and record.expires_at.isoformat() == "2027-06-30T12:00:00+00:00"


def test_keys_create_relative_expiry_and_bad_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "temp", "--expires", "90d"]) == 0
    entry = yaml.safe_load(capsys.readouterr().out.split("`keys:`):\n")[1])[0]
    assert abs(KeyRecord.model_validate(entry).expires_at.timestamp() - (time.time() + 90 * 86400)) < 60  # type: ignore[union-attr]
    for bad in (["--budget-duration", "fortnight"], ["--budget", "lots"], ["--expires", "soon"]):
        with pytest.raises(SystemExit):
            main(["keys", "create", "--name", "x", *bad])


def test_keys_create_in_ssm_stores_the_limits(moto_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    assert main(["keys", "create", "--name", "svc", "--prefix", "/lg", "--rpm", "5", "--team", "ops"]) == 0
    stored = boto3.client("ssm").get_parameters_by_path(Path="/lg/keys")["Parameters"]
    assert len(stored) == 1
    record = json.loads(stored[0]["Value"])
    assert (record["name"], record["rpm"], record["team"]) == ("svc", 5, "ops")


def test_teams_lifecycle_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:{tmp_path / 'limits.db'}"
    assert main(["teams", "create", "research", "--rpm", "100", "--budget", "50", "--budget-duration", "monthly",
                 "--store", store]) == 0
    assert "created team research: rpm 100, tpm -, budget $50 per monthly" in capsys.readouterr().out
    assert main(["teams", "create", "research", "--store", store]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["teams", "update", "research", "--tpm", "5000", "--rpm", "none", "--disable", "--store", store]) == 0
    assert SqliteStore(str(tmp_path / "limits.db")).team("research") == Team(
        name="research", tpm=5000, max_budget=Decimal("50"), budget_duration="monthly", disabled=True)
    assert main(["teams", "list", "--store", store]) == 0
    assert "research  rpm -, tpm 5000, budget $50 per monthly  (disabled)" in capsys.readouterr().out
    assert main(["teams", "show", "research", "--store", store]) == 0
    assert "$0 of $50 spent, 0 requests" in capsys.readouterr().out
    assert main(["teams", "delete", "research", "--store", store]) == 0
    assert main(["teams", "delete", "research", "--store", store]) == 1
    assert main(["teams", "list"]) == 2  # no store named
    assert "name the limits store" in capsys.readouterr().err


def test_keys_usage_reports_spend_counters_and_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "limits.db"
    sha = hashlib.sha256(b"sk-usage").hexdigest()
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"limits": {"store": f"sqlite:{path}"}},
        "keys": [{"name": "alice", "sha256": sha, "rpm": 10, "max_budget": 5, "budget_duration": "1d",
                  "team": "research"},
                 {"name": "bob", "sha256": hashlib.sha256(b"b").hexdigest()}]}))
    store = SqliteStore(str(path))
    store.put_team(Team(name="research", rpm=100))
    record = KeyRecord(name="alice", sha256=sha, rpm=10, max_budget=Decimal(5), budget_duration="1d", team="research")
    now = time.time()
    claim = Claim(key_subject(record), minute_of(now), budget_window("1d", now), 10)
    for _ in range(2):
        store.admit(claim, now)
        store.settle(Settlement(claim, 30, Decimal("0.125"), 20))
    assert main(["keys", "usage", "alice", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "key alice (sha256 " in out and "rpm 10, tpm -, budget $5 per 1d" in out
    assert "$0.25 of $5 spent, 2 requests, 60 tokens" in out
    if minute_of(time.time()) == minute_of(now):  # the report reads the minute it runs in
        assert "this minute: 2 requests of 10, 60 tokens" in out
    assert "team research: rpm 100" in out
    assert main(["keys", "usage", "bob", "--config", str(config)]) == 0
    assert "no limits of its own" in capsys.readouterr().out
    assert main(["keys", "usage", "carol", "--config", str(config)]) == 1
