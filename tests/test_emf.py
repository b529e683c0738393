"""The EMF writer prints the document Powertools' metrics print, and follows the same switches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from lambdagate.observability import emf


def _documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(emf.NAMESPACE_ENV, "lambdagate-test")
    monkeypatch.setenv(emf.SERVICE_ENV, "lambdagate")
    for name in (emf.DISABLED_ENV, emf.DEV_ENV):
        monkeypatch.delenv(name, raising=False)


def test_the_document_is_the_one_powertools_prints(namespace: None, capsys: pytest.CaptureFixture[str]) -> None:
    reference = EphemeralMetrics()
    reference.add_dimension("model", "gpt")
    reference.add_dimension("provider", "openai")
    reference.add_metric("Requests", MetricUnit.Count, 1)
    reference.add_metric("Latency", MetricUnit.Milliseconds, 12.5)
    reference.add_metric("SpendUSD", MetricUnit.NoUnit, 0.00125)
    reference.flush_metrics()
    writer = emf.EmfWriter.from_environment()
    assert writer is not None
    writer.write({"model": "gpt", "provider": "openai"},
                 [("Requests", emf.COUNT, 1), ("Latency", emf.MILLISECONDS, 12.5), ("SpendUSD", emf.NO_UNIT, 0.00125)])
    theirs, ours = _documents(capsys.readouterr().out)
    assert abs(theirs["_aws"].pop("Timestamp") - ours["_aws"].pop("Timestamp")) < 60_000
    assert ours == theirs
    assert list(ours) == list(theirs)  # the same key order too


@pytest.mark.parametrize(("disabled", "dev", "written"), [
    ("true", None, False), (None, "true", False), ("false", "true", True), ("false", None, True), (None, None, True),
])
def test_the_powertools_switches(namespace: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 disabled: str | None, dev: str | None, written: bool) -> None:
    for name, value in ((emf.DISABLED_ENV, disabled), (emf.DEV_ENV, dev)):
        if value is not None:
            monkeypatch.setenv(name, value)
    writer = emf.EmfWriter.from_environment()
    assert writer is not None
    writer.write({"model": "gpt"}, [("Requests", emf.COUNT, 1)])
    assert len(_documents(capsys.readouterr().out)) == (1 if written else 0)


def test_no_namespace_no_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(emf.NAMESPACE_ENV, raising=False)
    assert emf.EmfWriter.from_environment() is None


def test_one_document_carries_every_metric_set_under_its_own_dimensions(
        namespace: None, capsys: pytest.CaptureFixture[str]) -> None:
    writer = emf.EmfWriter.from_environment()
    assert writer is not None
    text = writer.document(({"model": "gpt", "provider": "openai"}, [("Requests", emf.COUNT, 1)]),
                           ({"model": "gpt", "error_type": "rate_limit_error"}, [("ErrorsByType", emf.COUNT, 1)]),
                           ({"key": "alice", "model": "gpt"}, [("SpendUSD", emf.NO_UNIT, 0.5)]))
    assert text.count("\n") == 1 and text.endswith("\n")
    document = json.loads(text)
    directives = document["_aws"]["CloudWatchMetrics"]
    assert [d["Dimensions"] for d in directives] == [
        [["model", "provider", "service"]], [["model", "error_type", "service"]], [["key", "model", "service"]]]
    assert [[m["Name"] for m in d["Metrics"]] for d in directives] == [["Requests"], ["ErrorsByType"], ["SpendUSD"]]
    assert {d["Namespace"] for d in directives} == {"lambdagate-test"}
    # Every name a directive refers to is a member of the document's root, as the specification requires.
    for directive in directives:
        for name in [*directive["Dimensions"][0], *(m["Name"] for m in directive["Metrics"])]:
            assert name in document
    assert (document["model"], document["key"], document["service"]) == ("gpt", "alice", "lambdagate")
    assert (document["Requests"], document["ErrorsByType"], document["SpendUSD"]) == ([1.0], [1.0], [0.5])


def test_a_dimension_with_two_values_is_refused(namespace: None) -> None:
    writer = emf.EmfWriter.from_environment()
    assert writer is not None
    with pytest.raises(ValueError, match="model"):
        writer.document(({"model": "gpt"}, [("Requests", emf.COUNT, 1)]), ({"model": "other"}, [("X", emf.COUNT, 1)]))
