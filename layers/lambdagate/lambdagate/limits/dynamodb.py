"""The limits store deployed: one DynamoDB table (on-demand, TTL), low-level boto3 calls.

Items (``pk``, ``sk`` strings; ``expires`` is the TTL attribute):

    pk=key#<sha256> | team#<name>   sk=<window>   req, tok, spend, r<minute>, t<minute>, expires, name
    pk=teams                        sk=<name>     record (the Team as JSON)

``<window>`` is the budget window (``total``, ``1d#<start>``, ``monthly#2026-12``). The minute's
counters are attributes named after the minute (``r29393730`` requests, ``t29393730`` tokens),
so the admission of a request is *one* ``UpdateItem`` whose condition checks the rpm, the tpm and
the budget together and whose update adds to them, with no read first::

    ADD req :1, #r :1, #t :estimate  SET expires = :end, #nm = :name
    IF (attribute_not_exists(#r) OR #r < :rpm) AND (attribute_not_exists(#t) OR #t <= :tpm - estimate)
       AND (attribute_not_exists(spend) OR spend < :budget)

A refused condition returns the old item (``ReturnValuesOnConditionCheckFailure``), which says
which limit was reached. The admission returns the new item; the minute counters of minutes
before the last one (still there after a quiet spell) are removed by the settlement's update,
which also adds the real cost and tokens. The window's item expires 90 days after the window.

Calls go through :mod:`.dynamodb_http` (DynamoDB's JSON API signed with botocore's SigV4, kept-alive
connections: about a third of a boto3 client's CPU per call) and are short (1 s to connect, 2 s
to read, two attempts in all): on the request path a slow DynamoDB becomes the
``on_store_error`` decision quickly instead of holding the request.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from decimal import Decimal
from typing import Any

from lambdagate.config.schema import Team
from lambdagate.limits.dynamodb_http import SignedJsonClient
from lambdagate.limits.errors import StoreError
from lambdagate.limits.store import Claim, Grant, Refusal, Settlement, Subject, SubjectUsage, WindowUsage
from lambdagate.limits.windows import budget_window, minute_of

_MINUTE_ATTR = re.compile(r"^[rt]([0-9]+)$")
TEAMS_PK = "teams"
_TARGETS = {"update_item": "UpdateItem", "get_item": "GetItem", "put_item": "PutItem", "delete_item": "DeleteItem",
            "query": "Query"}


def _n(value: int | Decimal) -> dict[str, str]:
    if isinstance(value, Decimal):
        return {"N": format(value.quantize(Decimal("1e-12")).normalize(), "f")}
    return {"N": str(value)}


def _num(item: dict[str, Any], name: str) -> Decimal:
    value = item.get(name)
    return Decimal(value["N"]) if isinstance(value, dict) and "N" in value else Decimal(0)


class DynamoDBStore:
    blocking = True

    def __init__(self, table: str, *, region: str | None = None) -> None:
        self.table = table
        self.region = region
        self._client: SignedJsonClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DynamoDBStore({self.table!r})"

    def client(self) -> SignedJsonClient:
        """The client, built once (at Lambda init through :meth:`prepare`, else on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        from lambdagate.limits.dynamodb_http import from_boto3

                        self._client = from_boto3(self.region)
                    except Exception as exc:  # no boto3, no credentials, no region
                        raise StoreError(f"the DynamoDB limits store cannot start: {_describe(exc)}") from None
        return self._client

    def reset(self) -> None:
        """Drop the client: its connections and credentials are the snapshot's (SnapStart restore)."""
        self._client = None

    def prepare(self) -> None:
        with contextlib.suppress(StoreError):  # said again, and decided on, by the first request
            self.client()

    def _call(self, operation: str, **kwargs: Any) -> Any:
        client = self.client()
        try:
            return client.call(_TARGETS[operation], {"TableName": self.table, **kwargs})
        except Exception as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise
            raise StoreError(f"DynamoDB {operation} on {self.table}: {_describe(exc)}") from None

    # --- the request path ----------------------------------------------------------------------

    def admit(self, claim: Claim, now: float) -> Grant:
        subject = claim.subject
        names = {"#req": "req", "#nm": "name"}
        values: dict[str, Any] = {":one": _n(1), ":nm": {"S": subject.name}}
        adds = ["#req :one"]
        sets = ["#nm = :nm"]
        conditions = []
        if subject.per_minute:
            names["#r"], names["#t"] = f"r{claim.minute}", f"t{claim.minute}"
            values[":tok"] = _n(claim.tokens)
            adds += ["#r :one", "#t :tok"]
            if subject.rpm is not None:
                values[":rpm"] = _n(subject.rpm)
                conditions.append("(attribute_not_exists(#r) OR #r < :rpm)")
            if subject.tpm is not None:
                values[":room"] = _n(max(subject.tpm - claim.tokens, 0))
                conditions.append("(attribute_not_exists(#t) OR #t <= :room)")
        if subject.max_budget is not None:
            names["#sp"] = "spend"
            values[":budget"] = _n(subject.max_budget)
            conditions.append("(attribute_not_exists(#sp) OR #sp < :budget)")
        if claim.window.expires is not None:
            names["#exp"] = "expires"
            values[":exp"] = _n(claim.window.expires)
            sets.append("#exp = :exp")
        request: dict[str, Any] = {
            "Key": {"pk": {"S": subject.pk}, "sk": {"S": claim.window.id}},
            "UpdateExpression": f"ADD {', '.join(adds)} SET {', '.join(sets)}",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values, "ReturnValues": "ALL_NEW",
        }
        if conditions:
            request["ConditionExpression"] = " AND ".join(conditions)
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        try:
            item = self._call("update_item", **request).get("Attributes", {})
        except StoreError:
            raise
        except Exception as exc:  # a refused condition (_call turns every other failure into StoreError)
            old = getattr(exc, "response", {}).get("Item")
            if old is None:  # a store that does not return it: read it (refusals only)
                old = self._call("get_item", Key=request["Key"], ConsistentRead=True).get("Item", {})
            raise self._refusal(claim, old) from None
        stale = tuple(name for name in item if (m := _MINUTE_ATTR.match(name)) and int(m[1]) < claim.minute - 1)
        return Grant(claim, stale)

    @staticmethod
    def _refusal(claim: Claim, item: dict[str, Any]) -> Refusal:
        subject = claim.subject
        spend = _num(item, "spend")
        if subject.max_budget is not None and spend >= subject.max_budget:
            return Refusal(claim, "budget", spend)
        requests = int(_num(item, f"r{claim.minute}"))
        if subject.rpm is not None and requests >= subject.rpm:
            return Refusal(claim, "rpm", requests)
        return Refusal(claim, "tpm", int(_num(item, f"t{claim.minute}")))

    def undo(self, grant: Grant) -> None:
        claim = grant.claim
        names = {"#req": "req"}
        values = {":m1": _n(-1)}
        adds = ["#req :m1"]
        if claim.subject.per_minute:
            names["#r"], names["#t"] = f"r{claim.minute}", f"t{claim.minute}"
            values[":mtok"] = _n(-claim.tokens)
            adds += ["#r :m1", "#t :mtok"]
        self._call("update_item", Key={"pk": {"S": claim.subject.pk}, "sk": {"S": claim.window.id}},
                   UpdateExpression="ADD " + ", ".join(adds), ExpressionAttributeNames=names,
                   ExpressionAttributeValues=values)

    def settle(self, settlement: Settlement) -> None:
        claim = settlement.claim
        names = {"#sp": "spend", "#tk": "tok"}
        values: dict[str, Any] = {":cost": _n(settlement.cost), ":tok": _n(settlement.tokens)}
        adds = ["#sp :cost", "#tk :tok"]
        sets = []
        if settlement.minute_delta:
            names["#t"] = f"t{claim.minute}"
            values[":delta"] = _n(settlement.minute_delta)
            adds.append("#t :delta")
        if settlement.count_request:
            names["#req"], values[":one"] = "req", _n(1)
            adds.append("#req :one")
            names["#nm"], values[":nm"] = "name", {"S": claim.subject.name}
            sets.append("#nm = :nm")
            if claim.window.expires is not None:
                names["#exp"], values[":exp"] = "expires", _n(claim.window.expires)
                sets.append("#exp = :exp")
        expression = "ADD " + ", ".join(adds)
        if sets:
            expression += " SET " + ", ".join(sets)
        stale = [name for name in settlement.stale if name not in names.values()]
        if stale:
            for index, name in enumerate(stale):
                names[f"#s{index}"] = name
            expression += " REMOVE " + ", ".join(f"#s{index}" for index in range(len(stale)))
        self._call("update_item", Key={"pk": {"S": claim.subject.pk}, "sk": {"S": claim.window.id}},
                   UpdateExpression=expression, ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    # --- teams and reports -----------------------------------------------------------------------

    def team(self, name: str) -> Team | None:
        item = self._call("get_item", Key={"pk": {"S": TEAMS_PK}, "sk": {"S": name}}).get("Item")
        if not item or "record" not in item:
            return None
        return Team.model_validate_json(item["record"]["S"])

    def put_team(self, team: Team) -> None:
        self._call("put_item", Item={"pk": {"S": TEAMS_PK}, "sk": {"S": team.name},
                                     "record": {"S": team.model_dump_json(exclude_none=True)}})

    def delete_team(self, name: str) -> bool:
        old = self._call("delete_item", Key={"pk": {"S": TEAMS_PK}, "sk": {"S": name}}, ReturnValues="ALL_OLD")
        return bool(old.get("Attributes"))

    def teams(self) -> list[Team]:
        return [Team.model_validate_json(item["record"]["S"]) for item in self._query(TEAMS_PK) if "record" in item]

    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self._call("query", KeyConditionExpression="pk = :pk",
                              ExpressionAttributeValues={":pk": {"S": pk}}, ConsistentRead=True, **extra)
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def usage(self, subject: Subject, now: float) -> SubjectUsage:
        window = budget_window(subject.budget_duration, now)
        minute = minute_of(now)
        current: WindowUsage | None = None
        history = []
        minute_requests = minute_tokens = 0
        for item in self._query(subject.pk):
            sk = item["sk"]["S"]
            usage = WindowUsage(sk, int(_num(item, "req")), int(_num(item, "tok")), _num(item, "spend"))
            if sk == window.id:
                current = usage
                minute_requests, minute_tokens = int(_num(item, f"r{minute}")), int(_num(item, f"t{minute}"))
            else:
                history.append(usage)
        return SubjectUsage(current or WindowUsage(window.id), minute_requests, minute_tokens, tuple(history))


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return code if isinstance(code, str) else None
    return None


def _describe(exc: Exception) -> str:
    code = _error_code(exc)
    return f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"


def describe_table(table: str) -> str:
    """``aws dynamodb create-table`` arguments for the table (documented, and used by tests)."""
    return json.dumps({"TableName": table, "BillingMode": "PAY_PER_REQUEST",
                       "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                       "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}]})


__all__ = ["DynamoDBStore", "describe_table"]
