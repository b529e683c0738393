"""The limits table in template.yaml: on demand, TTL, least privilege, named to the functions, on the dashboard."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from conftest import emf_directive
from lambdagate.limits.dynamodb import describe_table
from lambdagate.observability import metrics

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> Any:
    return cfn_yaml.load(str(TEMPLATE))


def test_table_is_on_demand_with_ttl_and_the_store_layout(template: Any) -> None:
    table = template["Resources"]["LimitsTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    layout = json.loads(describe_table("x"))  # what the store (and the tests' moto table) expects
    assert props["KeySchema"] == layout["KeySchema"]
    assert props["AttributeDefinitions"] == layout["AttributeDefinitions"]


def test_functions_get_the_table_and_only_the_calls_they_make(template: Any) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["LAMBDAGATE_LIMITS"] == {"Fn::Sub": "dynamodb:${LimitsTable}"}
    policies = {p["PolicyName"]: p for p in template["Resources"]["FunctionRole"]["Properties"]["Policies"]
                if "PolicyName" in p}
    (statement,) = policies["limits"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    assert statement["Resource"] == {"Fn::GetAtt": ["LimitsTable", "Arn"]}
    assert template["Outputs"]["LimitsTableName"]["Value"] == {"Ref": "LimitsTable"}


def test_dashboard_shows_spend_requests_and_rejections_per_key_and_team(template: Any) -> None:
    body, _ = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    document = json.loads(re.sub(r"\$\{[^}]+\}", "X", body))
    queries = [m[0]["expression"] for w in document["widgets"] if w["type"] == "metric"
               for m in w["properties"]["metrics"] if isinstance(m[0], dict)]
    schema = 'FROM SCHEMA(\\"X\\", key, model, service, team)'.replace("\\", "")
    for metric, group in ((metrics.SPEND, "key"), (metrics.SPEND, "team"), (metrics.KEY_REQUESTS, "key"),
                          (metrics.KEY_REQUESTS, "team"), (metrics.LIMIT_REJECTIONS, "key, team")):
        assert f"SELECT SUM({metric}) {schema} GROUP BY {group}" in queries, (metric, group)
    assert f"SELECT SUM({metrics.LIMIT_STORE_ERRORS}) {schema}" in queries


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Any:
    from lambdagate.observability import powertools

    monkeypatch.setenv(powertools.NAMESPACE_ENV, "lambdagate-test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "lambdagate")
    powertools.reset()
    yield
    powertools.reset()


def _docs(out: str) -> list[dict[str, Any]]:
    docs = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def test_emf_spend_by_key_team_and_model(telemetry: None, capsys: pytest.CaptureFixture[str]) -> None:
    from lambdagate.observability import RequestRecord

    records = [
        RequestRecord(request_id="r", endpoint="chat", key_name="alice", team="research",
                      model="gpt", provider="mock", cost_usd=0.00125, prompt_tokens=3),
        RequestRecord(request_id="r2", endpoint="chat", key_name="bob", model="gpt", status=429,
                      error_type="requests", limited="key.rpm"),
        RequestRecord(request_id="r3", endpoint="chat", status=401, error_type="x"),  # no key
    ]
    sys.stdout.write("".join(metrics.metric_lines(record) for record in records))
    by_key = [d for d in _docs(capsys.readouterr().out) if emf_directive(d, metrics.KEY_REQUESTS) is not None]
    assert len(by_key) == 2
    first, second = by_key
    directive = emf_directive(first, metrics.KEY_REQUESTS)
    assert directive is not None and sorted(directive["Dimensions"][0]) == ["key", "model", "service", "team"]
    assert (first["key"], first["team"], first["model"]) == ("alice", "research", "gpt")

    def value(doc: dict[str, Any], name: str) -> Any:
        return doc[name][0] if isinstance(doc[name], list) else doc[name]

    assert value(first, metrics.SPEND) == 0.00125 and value(first, metrics.KEY_REQUESTS) == 1
    assert value(first, metrics.LIMIT_REJECTIONS) == 0 and value(first, metrics.LIMIT_STORE_ERRORS) == 0
    assert (second["key"], second["team"], value(second, metrics.LIMIT_REJECTIONS)) == ("bob", "(none)", 1)
    assert metrics.SPEND not in second
