"""``lambdagate keys create --rpm/--tpm/--budget/...``, ``lambdagate keys usage NAME`` and ``lambdagate teams ...``.

    lambdagate keys create --name NAME [--rpm N] [--tpm N] [--budget USD] [--budget-duration 1d|30d|monthly]
                           [--expires 2027-01-01T00:00:00Z|90d] [--team TEAM] ...
    lambdagate keys usage NAME (--config gateway.yaml | --prefix /lambdagate) [--store S]
    lambdagate teams create|update NAME [--rpm N] [--tpm N] [--budget USD] [--budget-duration D] [--disable|--enable]
                                        [--store S]
    lambdagate teams list|show NAME|delete NAME [--store S]

The store is ``dynamodb:TABLE`` (the stack's ``LimitsTableName`` output), ``sqlite:PATH`` (``lambdagate
serve`` with ``settings.limits.store: sqlite:PATH``), or else ``$LAMBDAGATE_LIMITS``, or the
``settings.limits.store`` of ``--config``.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lambdagate.cli.common import CliError

if TYPE_CHECKING:
    from lambdagate.config.schema import KeyRecord, Team
    from lambdagate.limits.store import LimitStore, Subject

_RELATIVE = re.compile(r"^([1-9][0-9]*)([mhd])$")


# --- keys create -----------------------------------------------------------------------------------


def _budget(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {value!r}") from None
    if amount < 0:
        raise argparse.ArgumentTypeError("a budget cannot be negative")
    return amount


def _duration(value: str) -> str:
    from lambdagate.limits.windows import duration_seconds

    try:
        duration_seconds(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _expires(value: str) -> datetime:
    """An ISO 8601 time (UTC when it has no zone), or a span from now: ``90d``, ``12h``, ``30m``."""
    if match := _RELATIVE.fullmatch(value):
        seconds = int(match[1]) * {"m": 60, "h": 3600, "d": 86400}[match[2]]
        return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {value!r} (use 2027-01-01T00:00:00Z or 90d)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_key_options(create: argparse.ArgumentParser) -> None:
    """The limit options of ``keys create``."""
    create.add_argument("--rpm", type=int, help="requests per minute, across every instance")
    create.add_argument("--tpm", type=int, help="tokens per minute (admitted on an estimate, then reconciled)")
    create.add_argument("--budget", type=_budget, help="USD the key may spend per --budget-duration (else for ever)")
    create.add_argument("--budget-duration", type=_duration, help="1d, 30d, 12h, ... or monthly (calendar, UTC)")
    create.add_argument("--expires", type=_expires, help="when the key stops working: 2027-01-01T00:00:00Z or 90d")
    create.add_argument("--team", help="a team (lambdagate teams create) whose limits the key shares")


def key_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The ``KeyRecord`` fields the limit options set."""
    fields = {"rpm": args.rpm, "tpm": args.tpm, "max_budget": args.budget, "budget_duration": args.budget_duration,
              "expires_at": args.expires, "team": args.team}
    return {name: value for name, value in fields.items() if value is not None}


def with_limits(entry: str, args: argparse.Namespace) -> str:
    """The printed config entry ``  - {name: ..., sha256: ...}`` with the limit options in it."""
    fields = key_fields(args)
    if not fields:
        return entry
    parts = []
    for name, value in fields.items():
        text = value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else str(value)
        parts.append(f"{name}: {text}")
    return entry[:-1] + ", " + ", ".join(parts) + "}"


# --- the store ----------------------------------------------------------------------------------------


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="dynamodb:TABLE or sqlite:PATH (default: $LAMBDAGATE_LIMITS)")
    parser.add_argument("--region", help="AWS region of a DynamoDB store (default: the AWS configuration)")


def open_cli_store(args: argparse.Namespace, settings_store: str | None = None) -> LimitStore:
    from lambdagate.limits import LIMITS_ENV
    from lambdagate.limits.errors import StoreError

    spec = args.store or os.environ.get(LIMITS_ENV) or settings_store
    if not spec or spec == "memory":
        raise CliError("name the limits store: --store dynamodb:TABLE (the stack's LimitsTableName output) or "
                       "--store sqlite:PATH (settings.limits.store of lambdagate serve)", code=2)
    try:
        if spec.startswith("dynamodb:"):
            from lambdagate.cli.common import require_aws
            from lambdagate.limits.dynamodb import DynamoDBStore

            require_aws("lambdagate " + " ".join(filter(None, (args.command, getattr(args, "teams_command", None)))))
            return DynamoDBStore(spec.partition(":")[2], region=args.region)
        from lambdagate.limits import open_store

        return open_store(spec)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _call(what: str, call: Any, *args: Any) -> Any:
    from lambdagate.limits.errors import StoreError

    try:
        return call(*args)
    except StoreError as exc:
        raise CliError(f"{what}: {exc}") from None


# --- keys usage ----------------------------------------------------------------------------------------


def _find_key(args: argparse.Namespace) -> tuple[KeyRecord, str | None]:
    """The key record named ``args.name`` (from --config or SSM), and the config's limits store if it names one."""
    from lambdagate.config.schema import KeyRecord

    if args.config:
        from lambdagate.config.file_store import FileConfigStore

        config = FileConfigStore.from_path(args.config).config
        records = list(config.keys)
        settings_store = config.settings.limits.store
    elif args.prefix:
        from lambdagate.cli.common import client, layout, read_tree

        where = layout(args)
        records = [KeyRecord.model_validate_json(value)
                   for name, (value, _) in read_tree(client(args), where.keys_path, decrypt=False).items()
                   if where.classify(name) is not None]
        settings_store = None
    else:
        raise CliError("give --config FILE or --prefix /lambdagate to find the key", code=2)
    matches = [record for record in records if record.name == args.name]
    if not matches:
        raise CliError(f"no key named {args.name!r}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} keys are named {args.name!r}; their sha256: "
                       + ", ".join(record.sha256[:12] for record in matches))
    return matches[0], settings_store


def _limits_line(rpm: int | None, tpm: int | None, budget: Decimal | None, duration: str | None) -> str:
    parts = [f"rpm {rpm if rpm is not None else '-'}", f"tpm {tpm if tpm is not None else '-'}"]
    if budget is not None:
        parts.append(f"budget ${budget} {'per ' + duration if duration else 'in all'}")
    else:
        parts.append("budget -")
    return ", ".join(parts)


def _print_usage(store: LimitStore, subject: Subject, now: float) -> None:
    from lambdagate.cost import format_usd
    from lambdagate.limits.windows import budget_window

    usage = _call("reading the usage", store.usage, subject, now)
    window = budget_window(subject.budget_duration, now)
    current = usage.current
    budget = f" of ${subject.max_budget}" if subject.max_budget is not None else ""
    print(f"  window {current.window} ({window.describe()}): ${format_usd(current.spend)}{budget} spent, "
          f"{current.requests} requests, {current.tokens} tokens")
    print(f"  this minute: {usage.minute_requests} requests"
          + (f" of {subject.rpm}" if subject.rpm is not None else "")
          + f", {usage.minute_tokens} tokens" + (f" of {subject.tpm}" if subject.tpm is not None else ""))
    for earlier in sorted(usage.history, key=lambda w: w.window)[-6:]:
        print(f"  earlier window {earlier.window}: ${format_usd(earlier.spend)}, {earlier.requests} requests, "
              f"{earlier.tokens} tokens")


def keys_usage(args: argparse.Namespace) -> int:
    from lambdagate.limits import key_subject, team_subject

    key, settings_store = _find_key(args)
    store = open_cli_store(args, settings_store)
    now = time.time()
    print(f"key {key.name} (sha256 {key.sha256[:12]}...): "
          + _limits_line(key.rpm, key.tpm, key.max_budget, key.budget_duration))
    state = ["disabled"] if key.disabled else []
    if key.expires_at is not None:
        expires = key.expires_at if key.expires_at.tzinfo else key.expires_at.replace(tzinfo=UTC)
        state.append(("expired " if expires.timestamp() <= now else "expires ") + expires.isoformat())
    if state:
        print("  " + ", ".join(state))
    if key.limited or args.all:
        _print_usage(store, key_subject(key), now)
    else:
        print("  no limits of its own: its spend is in the request logs and the SpendUSD metric "
              "(or in the store with settings.limits.track_spend)")
    if key.team is not None:
        team = _call("reading the team", store.team, key.team)
        if team is None:
            print(f"team {key.team}: not in the store (requests with this key are refused)")
        else:
            print(f"team {team.name}{' (disabled)' if team.disabled else ''}: "
                  + _limits_line(team.rpm, team.tpm, team.max_budget, team.budget_duration))
            _print_usage(store, team_subject(team), now)
    return 0


def add_keys_usage(keys: Any) -> None:
    usage = keys.add_parser("usage", help="a key's spend in its current window, its counters and limits")
    usage.add_argument("name")
    usage.add_argument("--config", help="the YAML/JSON config that holds the key (lambdagate serve)")
    usage.add_argument("--prefix", help="the SSM prefix that holds the key (deployed), e.g. /lambdagate")
    usage.add_argument("--all", action="store_true", help="read the store even for a key without limits")
    _store_options(usage)
    usage.set_defaults(handler=keys_usage)


# --- teams ----------------------------------------------------------------------------------------------


def _team_from(args: argparse.Namespace, existing: Team | None) -> Team:
    from pydantic import ValidationError

    from lambdagate.config.schema import Team

    data: dict[str, Any] = existing.model_dump() if existing is not None else {"name": args.name}
    for option, field in (("rpm", "rpm"), ("tpm", "tpm"), ("budget", "max_budget"),
                          ("budget_duration", "budget_duration")):
        value = getattr(args, option)
        if value is not None:
            data[field] = None if value in ("none", -1) else value
    if args.disabled is not None:
        data["disabled"] = args.disabled
    try:
        return Team.model_validate(data)
    except ValidationError as exc:
        raise CliError(f"invalid team: {exc.errors()[0]['msg']}", code=2) from None


def teams_create(args: argparse.Namespace) -> int:
    store = open_cli_store(args)
    if _call("reading the team", store.team, args.name) is not None:
        raise CliError(f"team {args.name!r} exists; change it with `lambdagate teams update`")
    team = _team_from(args, None)
    _call("writing the team", store.put_team, team)
    print(f"created team {team.name}: {_limits_line(team.rpm, team.tpm, team.max_budget, team.budget_duration)}")
    print("running gateways read it within settings.limits.team_cache_seconds (60 s)")
    return 0


def teams_update(args: argparse.Namespace) -> int:
    store = open_cli_store(args)
    existing = _call("reading the team", store.team, args.name)
    if existing is None:
        raise CliError(f"no team {args.name!r}; make it with `lambdagate teams create`")
    team = _team_from(args, existing)
    _call("writing the team", store.put_team, team)
    print(f"updated team {team.name}: {_limits_line(team.rpm, team.tpm, team.max_budget, team.budget_duration)}"
          + (" (disabled)" if team.disabled else ""))
    return 0


def teams_list(args: argparse.Namespace) -> int:
    teams = _call("listing the teams", open_cli_store(args).teams)
    if not teams:
        print("no teams")
        return 0
    width = max(len("NAME"), *(len(team.name) for team in teams))
    print(f"{'NAME':{width}}  LIMITS")
    for team in teams:
        print(f"{team.name:{width}}  {_limits_line(team.rpm, team.tpm, team.max_budget, team.budget_duration)}"
              + ("  (disabled)" if team.disabled else ""))
    return 0


def teams_show(args: argparse.Namespace) -> int:
    from lambdagate.limits import team_subject

    store = open_cli_store(args)
    team = _call("reading the team", store.team, args.name)
    if team is None:
        raise CliError(f"no team {args.name!r}")
    print(f"team {team.name}{' (disabled)' if team.disabled else ''}: "
          + _limits_line(team.rpm, team.tpm, team.max_budget, team.budget_duration))
    _print_usage(store, team_subject(team), time.time())
    return 0


def teams_delete(args: argparse.Namespace) -> int:
    if not _call("deleting the team", open_cli_store(args).delete_team, args.name):
        raise CliError(f"no team {args.name!r}")
    print(f"deleted team {args.name}; its keys are refused (401) until they name another team")
    return 0


def _limit_int(value: str) -> int | str:
    if value == "none":
        return value
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("a limit cannot be negative (none removes it)")
    return number


def add_teams_parser(commands: Any) -> None:
    teams = commands.add_parser("teams", help="teams: limits and a budget shared by their keys").add_subparsers(
        dest="teams_command", required=True)
    for name, handler, text in (("create", teams_create, "make a team in the limits store"),
                                ("update", teams_update, "change a team's limits (none removes one)")):
        parser = teams.add_parser(name, help=text)
        parser.add_argument("name")
        parser.add_argument("--rpm", type=_limit_int)
        parser.add_argument("--tpm", type=_limit_int)
        parser.add_argument("--budget", type=lambda v: v if v == "none" else _budget(v), help="USD per window")
        parser.add_argument("--budget-duration", type=lambda v: v if v == "none" else _duration(v))
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--disable", dest="disabled", action="store_const", const=True, default=None,
                           help="refuse the team's keys (401)")
        state.add_argument("--enable", dest="disabled", action="store_const", const=False)
        _store_options(parser)
        parser.set_defaults(handler=handler)
    listing = teams.add_parser("list", help="every team and its limits")
    _store_options(listing)
    listing.set_defaults(handler=teams_list)
    for name, handler, text in (("show", teams_show, "a team's limits and its spend now"),
                                ("delete", teams_delete, "delete a team (its keys are refused)")):
        parser = teams.add_parser(name, help=text)
        parser.add_argument("name")
        _store_options(parser)
        parser.set_defaults(handler=handler)


__all__ = ["add_key_options", "add_keys_usage", "add_teams_parser", "key_fields", "with_limits"]
