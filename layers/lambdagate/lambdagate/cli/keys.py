"""``lambdagate keys create|revoke|list``: client keys, stored in SSM as the sha256 of the key."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lambdagate.cli import limits as limits_cli
from lambdagate.cli.common import CliError, client, layout, models_arg, read_tree, refuse_dev_key


def keys_create(args: argparse.Namespace) -> int:
    from lambdagate.auth import generate_key, hash_key

    key = generate_key()
    models = models_arg(args.models)
    if args.prefix:
        from lambdagate.config.schema import KeyRecord

        where = layout(args)
        record = KeyRecord(name=args.name, sha256=hash_key(key), models=models, **limits_cli.key_fields(args))
        refuse_dev_key(record.sha256, f"key '{args.name}'")  # whatever makes the key, the public one never lands
        # Stored before it is shown: a key is printed only once it works.
        client(args).put_parameter(Name=where.key(record.sha256), Value=record.model_dump_json(exclude_none=True),
                                   Type="String", Overwrite=False)
        print(f"key (shown once, store it now): {key}")
        print(f"stored key '{args.name}' as {where.key(record.sha256)}")
        return 0
    print(f"key (shown once, store it now): {key}")
    print("config entry (add under `keys:`):")
    entry = f"  - {{name: {args.name}, sha256: {hash_key(key)}"
    entry += f", models: [{', '.join(models)}]}}" if models else "}"
    entry = limits_cli.with_limits(entry, args)  # --rpm, --tpm, --budget, ... (cli/limits.py)
    print(entry)
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    from lambdagate.auth import hash_key
    from lambdagate.config.schema import KeyRecord
    from lambdagate.config.ssm_layout import SHA256_RE

    where = layout(args)
    if args.key is not None:
        key = sys.stdin.readline().strip() if args.key == "-" else args.key
        sha256 = hash_key(key)
    else:
        sha256 = args.sha256.strip().lower()
        if not SHA256_RE.fullmatch(sha256):
            raise CliError("--sha256 takes the 64 hex digits of the key's sha256", code=2)
    ssm = client(args)
    name = where.key(sha256)
    try:
        record = KeyRecord.model_validate_json(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        raise CliError(f"no key with sha256 {sha256} under {where.prefix}") from None
    ssm.delete_parameter(Name=name)
    print(f"revoked key '{record.name}' (sha256 {sha256}); "
          "running functions stop accepting it when their cache expires (LAMBDAGATE_SSM_TTL, default 300 s)")
    return 0


def keys_list(args: argparse.Namespace) -> int:
    from lambdagate.cli.common import DEV_KEY, DEV_KEY_SHA256
    from lambdagate.config.schema import KeyRecord

    where = layout(args)
    rows = []
    for name, (value, _) in read_tree(client(args), where.keys_path, decrypt=False).items():
        if where.classify(name) is None:
            continue
        record = KeyRecord.model_validate_json(value)
        rows.append((record.name, record.sha256, ",".join(record.models) if record.models is not None else "*"))
    if not rows:
        print(f"no keys under {where.prefix}")
        return 0
    width = max(len("NAME"), *(len(row[0]) for row in rows))
    print(f"{'NAME':{width}}  {'SHA256':64}  MODELS")
    for row in sorted(rows):
        print(f"{row[0]:{width}}  {row[1]}  {row[2]}")
    if any(row[1] == DEV_KEY_SHA256 for row in rows):
        print(f"warning: the public development key {DEV_KEY} is stored; revoke it: "
              f"lambdagate keys revoke --sha256 {DEV_KEY_SHA256} --prefix {where.prefix}", file=sys.stderr)
    return 0


def _ssm_options(parser: argparse.ArgumentParser, *, prefix_required: bool = True) -> None:
    parser.add_argument("--prefix", required=prefix_required,
                        help="SSM parameter prefix of the deployment, e.g. /lambdagate")
    parser.add_argument("--region", help="AWS region (default: the AWS CLI/SDK configuration)")


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="client API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="make a new key and print it once; with --prefix, store it in SSM")
    create.add_argument("--name", required=True)
    create.add_argument("--models", help="comma-separated aliases or provider/model patterns (default: all)")
    limits_cli.add_key_options(create)
    _ssm_options(create, prefix_required=False)
    create.set_defaults(handler=keys_create)
    revoke = keys.add_parser("revoke", help="delete a key from SSM")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--sha256", help="the key's sha256 (see `keys list`)")
    which.add_argument("--key", help="the key itself, or - to read it from stdin (keeps it out of shell history)")
    _ssm_options(revoke)
    revoke.set_defaults(handler=keys_revoke)
    listing = keys.add_parser("list", help="names, hashes and models of the keys in SSM (never the keys)")
    _ssm_options(listing)
    listing.set_defaults(handler=keys_list)
    limits_cli.add_keys_usage(keys)
