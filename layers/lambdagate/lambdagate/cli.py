"""``lambdagate``: run the gateway locally, keep its configuration in SSM, manage client keys.

    lambdagate serve [--config gateway.yaml | ssm:/prefix] [--host 127.0.0.1] [--port 8000]
    lambdagate config push gateway.yaml --prefix /lambdagate [--region R] [--dry-run] [--prune] [--kms-key-id K]
    lambdagate config pull --prefix /lambdagate [--region R]
    lambdagate keys create --name NAME [--models a,b] [--prefix /lambdagate] [--region R]
    lambdagate keys revoke (--sha256 HASH | --key KEY | --key -) --prefix /lambdagate [--region R]
    lambdagate keys list --prefix /lambdagate [--region R]

The SSM layout is :mod:`lambdagate.config.ssm`'s. CloudFormation cannot create SecureString
parameters, hence ``config push``: it resolves each provider's ``api_key`` reference where it runs
(``env:NAME`` from its environment, ``ssm:/path`` read once) and stores the value as the
SecureString ``{prefix}/providers/{name}/api_key``. Nothing here prints a secret, except a newly
created client key, once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from lambdagate.config import CONFIG_ENV

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from lambdagate.config.ssm import SsmLayout


class CliError(Exception):
    """A problem the user can fix, reported as one line on stderr."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lambdagate.api import create_app
    from lambdagate.config import load_store

    source = args.config or os.environ.get(CONFIG_ENV)
    if not source:
        print(f"error: pass --config or set {CONFIG_ENV}", file=sys.stderr)
        return 2
    # One JSON line per request (names, statuses, timings, tokens; never keys or prompts) on stderr.
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    gateway_logger = logging.getLogger("lambdagate")
    gateway_logger.addHandler(handler)
    gateway_logger.setLevel(args.log_level.upper())
    app = create_app(load_store(source))
    print(f"lambdagate on http://{args.host}:{args.port}/v1 (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


# --- SSM plumbing -----------------------------------------------------------------------------


def _layout(args: argparse.Namespace) -> SsmLayout:
    from lambdagate.config.ssm import SsmLayout

    try:
        return SsmLayout.of(args.prefix)
    except ValueError as exc:
        raise CliError(str(exc), code=2) from None


def _client(args: argparse.Namespace) -> SSMClient:
    from lambdagate.config.ssm import ssm_client

    # Patient, unlike the request path: PutParameter's default throughput is low.
    return ssm_client(args.region, retries=10, timeout=30)


def _read_tree(client: SSMClient, path: str, *, decrypt: bool) -> dict[str, tuple[str, str]]:
    """Every parameter under ``path``: name -> (value, type)."""
    found: dict[str, tuple[str, str]] = {}
    for page in client.get_paginator("get_parameters_by_path").paginate(
            Path=path, Recursive=True, WithDecryption=decrypt):
        for parameter in page.get("Parameters", []):
            found[parameter["Name"]] = (parameter["Value"], parameter["Type"])
    return found


def _read_secret(client: SSMClient, name: str) -> str:
    from lambdagate.config.secrets import SecretUnavailable

    try:
        return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except client.exceptions.ParameterNotFound:
        raise SecretUnavailable(f"SSM parameter {name} does not exist") from None


def _models_arg(value: str | None) -> list[str] | None:
    return [m.strip() for m in value.split(",") if m.strip()] if value else None


# --- config push / pull -----------------------------------------------------------------------


def _config_push(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lambdagate.config.file_store import parse_config_text
    from lambdagate.config.secrets import SecretUnavailable, resolve_secret
    from lambdagate.config.ssm import config_parameters

    layout = _layout(args)
    path = Path(args.file)
    try:
        config = parse_config_text(path.read_text(encoding="utf-8"), suffix=path.suffix.lower())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}", code=2) from None
    client = _client(args)
    # Decrypted to compare: an unchanged secret is not rewritten (no new version, honest summary).
    existing = _read_tree(client, layout.prefix, decrypt=True)
    kept: set[str] = set()

    def api_key(provider: str, reference: str) -> str | None:
        own = layout.api_key(provider)
        if reference == f"ssm:{own}":  # what `config pull` prints: keep the stored secret
            if own not in existing:
                raise CliError(f"provider {provider}: its api_key refers to {own}, which does not exist")
            kept.add(own)
            return None
        try:
            return resolve_secret(reference, ssm_reader=lambda name: _read_secret(client, name))
        except SecretUnavailable as exc:
            raise CliError(f"provider {provider}: {exc}") from None

    try:
        desired = config_parameters(config, layout, api_key)
    except ValueError as exc:  # a name that cannot be encoded (empty)
        raise CliError(str(exc), code=2) from None

    counts = {"create": 0, "update": 0, "unchanged": 0, "delete": 0}
    for name, param in desired.items():
        kind: Literal["SecureString", "String"] = "SecureString" if param.secure else "String"
        current = existing.get(name)
        action = "create" if current is None else "unchanged" if current == (param.value, kind) else "update"
        counts[action] += 1
        print(f"{action:9}  {name}  ({kind})")
        if action != "unchanged" and not args.dry_run:
            options: dict[str, Any] = {"KeyId": args.kms_key_id} if param.secure and args.kms_key_id else {}
            client.put_parameter(Name=name, Value=param.value, Type=kind, Overwrite=True,
                                 Tier="Intelligent-Tiering", **options)
    for name in sorted(kept):
        counts["unchanged"] += 1
        print(f"{'unchanged':9}  {name}  (SecureString, kept: the file refers to it)")
    stale = sorted(set(existing) - set(desired) - kept)
    for name in stale:
        if args.prune:
            counts["delete"] += 1
            print(f"{'delete':9}  {name}")
            if not args.dry_run:
                client.delete_parameter(Name=name)
        else:
            print(f"{'extra':9}  {name}  (not in {path.name}; --prune deletes it)")
    summary = ", ".join(f"{n} {a}d" if a != "unchanged" else f"{n} unchanged" for a, n in counts.items())
    print(summary + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def _config_pull(args: argparse.Namespace) -> int:
    import yaml

    from lambdagate.config.ssm import parameters_config

    layout = _layout(args)
    # Not decrypted: SecureString values are never read, only their names.
    tree = _read_tree(_client(args), layout.prefix, decrypt=False)
    if not tree:
        raise CliError(f"nothing stored under {layout.prefix}")
    values = {name: value for name, (value, kind) in tree.items() if kind != "SecureString"}
    secure = [name for name, (_, kind) in tree.items() if kind == "SecureString"]
    for name in sorted(tree):
        if layout.classify(name) is None:
            print(f"warning: {name} is not part of the layout; skipped", file=sys.stderr)
    document = parameters_config(values, secure, layout)
    print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")
    return 0


# --- keys -------------------------------------------------------------------------------------


def _keys_create(args: argparse.Namespace) -> int:
    from lambdagate.auth import generate_key, hash_key

    key = generate_key()
    models = _models_arg(args.models)
    if args.prefix:
        from lambdagate.config.schema import KeyRecord

        layout = _layout(args)
        record = KeyRecord(name=args.name, sha256=hash_key(key), models=models)
        # Stored before it is shown: a key is printed only once it works.
        _client(args).put_parameter(Name=layout.key(record.sha256), Value=record.model_dump_json(exclude_none=True),
                                    Type="String", Overwrite=False)
        print(f"key (shown once, store it now): {key}")
        print(f"stored key '{args.name}' as {layout.key(record.sha256)}")
        return 0
    print(f"key (shown once, store it now): {key}")
    print("config entry (add under `keys:`):")
    entry = f"  - {{name: {args.name}, sha256: {hash_key(key)}"
    entry += f", models: [{', '.join(models)}]}}" if models else "}"
    print(entry)
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from lambdagate.auth import hash_key
    from lambdagate.config.schema import KeyRecord
    from lambdagate.config.ssm import SHA256_RE

    layout = _layout(args)
    if args.key is not None:
        key = sys.stdin.readline().strip() if args.key == "-" else args.key
        sha256 = hash_key(key)
    else:
        sha256 = args.sha256.strip().lower()
        if not SHA256_RE.fullmatch(sha256):
            raise CliError("--sha256 takes the 64 hex digits of the key's sha256", code=2)
    client = _client(args)
    name = layout.key(sha256)
    try:
        record = KeyRecord.model_validate_json(client.get_parameter(Name=name)["Parameter"]["Value"])
    except client.exceptions.ParameterNotFound:
        raise CliError(f"no key with sha256 {sha256} under {layout.prefix}") from None
    client.delete_parameter(Name=name)
    print(f"revoked key '{record.name}' (sha256 {sha256}); "
          "running functions stop accepting it when their cache expires (LAMBDAGATE_SSM_TTL, default 300 s)")
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from lambdagate.config.schema import KeyRecord

    layout = _layout(args)
    rows = []
    for name, (value, _) in _read_tree(_client(args), layout.keys_path, decrypt=False).items():
        if layout.classify(name) is None:
            continue
        record = KeyRecord.model_validate_json(value)
        rows.append((record.name, record.sha256, ",".join(record.models) if record.models is not None else "*"))
    if not rows:
        print(f"no keys under {layout.prefix}")
        return 0
    width = max(len("NAME"), *(len(row[0]) for row in rows))
    print(f"{'NAME':{width}}  {'SHA256':64}  MODELS")
    for row in sorted(rows):
        print(f"{row[0]:{width}}  {row[1]}  {row[2]}")
    return 0


# --- parser -----------------------------------------------------------------------------------


def _ssm_options(parser: argparse.ArgumentParser, *, prefix_required: bool = True) -> None:
    parser.add_argument("--prefix", required=prefix_required,
                        help="SSM parameter prefix of the deployment, e.g. /lambdagate")
    parser.add_argument("--region", help="AWS region (default: the AWS CLI/SDK configuration)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdagate", description="Serverless OpenAI-compatible LLM gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway locally under uvicorn")
    serve.add_argument("--config", help=f"YAML/JSON config file or ssm:/prefix (default: ${CONFIG_ENV})")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)

    config = commands.add_parser("config", help="configuration in SSM Parameter Store").add_subparsers(
        dest="config_command", required=True)
    push = config.add_parser("push", help="write a local config file into SSM (secrets as SecureString)")
    push.add_argument("file", help="gateway.yaml or .json")
    _ssm_options(push)
    push.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    push.add_argument("--prune", action="store_true", help="delete parameters under the prefix the file lacks")
    push.add_argument("--kms-key-id", help="KMS key for SecureString parameters (default: aws/ssm)")
    push.set_defaults(handler=_config_push)
    pull = config.add_parser("pull", help="print the config stored in SSM as YAML, without secrets")
    _ssm_options(pull)
    pull.set_defaults(handler=_config_pull)

    keys = commands.add_parser("keys", help="client API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="make a new key and print it once; with --prefix, store it in SSM")
    create.add_argument("--name", required=True)
    create.add_argument("--models", help="comma-separated aliases or provider/model patterns (default: all)")
    _ssm_options(create, prefix_required=False)
    create.set_defaults(handler=_keys_create)
    revoke = keys.add_parser("revoke", help="delete a key from SSM")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--sha256", help="the key's sha256 (see `keys list`)")
    which.add_argument("--key", help="the key itself, or - to read it from stdin (keeps it out of shell history)")
    _ssm_options(revoke)
    revoke.set_defaults(handler=_keys_revoke)
    listing = keys.add_parser("list", help="names, hashes and models of the keys in SSM (never the keys)")
    _ssm_options(listing)
    listing.set_defaults(handler=_keys_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:
        # AWS failures (no credentials, access denied, throttling) as one line, not a traceback.
        if type(exc).__module__.startswith(("botocore", "boto3")):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
