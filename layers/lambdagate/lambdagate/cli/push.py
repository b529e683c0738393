"""``lambdagate config push``: write a config file into the SSM layout, secrets as SecureString.

Each provider's ``api_key`` reference is resolved where the command runs (``env:NAME`` from its
environment, ``ssm:/path`` read once) and stored as ``{prefix}/providers/{name}/api_key``. Every
reference that cannot be resolved is reported at once, before anything is written;
``--skip-missing`` pushes the rest and leaves those providers as they are in SSM.

Pruning deletes parameters under the prefix that the file lacks, except client keys: those are
made by ``keys create`` and kept out of the file on purpose, so only ``--prune-keys`` deletes them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lambdagate.cli.common import DEV_KEY, DEV_KEY_SHA256, CliError, client, read_secret, read_tree, refuse_dev_key

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from lambdagate.config.schema import GatewayConfig
    from lambdagate.config.ssm_layout import SsmLayout


@dataclass
class Secrets:
    """The outcome of resolving every provider's ``api_key`` before anything is written."""

    values: dict[str, str] = field(default_factory=dict)
    """provider -> the secret to store."""
    kept: set[str] = field(default_factory=set)
    """SecureString names the file refers to as they are (what ``config pull`` prints)."""
    missing: dict[str, str] = field(default_factory=dict)
    """provider -> why its secret cannot be resolved here."""


def read_config(path: Path) -> GatewayConfig:
    from lambdagate.config.file_store import parse_config_text

    try:
        return parse_config_text(path.read_text(encoding="utf-8"), suffix=path.suffix.lower())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}", code=2) from None


def resolve_secrets(config: GatewayConfig, layout: SsmLayout, existing: dict[str, Any], ssm: SSMClient) -> Secrets:
    from lambdagate.config.errors import SecretUnavailable
    from lambdagate.config.secrets import resolve_secret

    found = Secrets()
    for provider, settings in config.providers.items():
        reference = settings.api_key
        if reference is None:
            continue
        own = layout.api_key(provider)
        if reference == f"ssm:{own}":  # the provider's own stored secret: keep it
            if own in existing:
                found.kept.add(own)
            else:
                found.missing[provider] = f"its api_key refers to {own}, which does not exist"
            continue
        try:
            value = resolve_secret(reference, ssm_reader=lambda name: read_secret(ssm, name))
        except SecretUnavailable as exc:
            found.missing[provider] = str(exc)
            continue
        if value is not None:
            found.values[provider] = value
    return found


def _missing_error(missing: dict[str, str]) -> CliError:
    lines = [f"{len(missing)} provider(s) have no credentials here, so nothing was written:"]
    lines += [f"  {provider}: {reason}" for provider, reason in sorted(missing.items())]
    lines.append("set them and push again, or pass --skip-missing to push everything else")
    return CliError("\n".join(lines))


def config_push(args: argparse.Namespace) -> int:
    from lambdagate.cli.common import layout as layout_of
    from lambdagate.cli.documents import config_parameters

    layout = layout_of(args)
    path = Path(args.file)
    config = read_config(path)
    for record in config.keys:
        refuse_dev_key(record.sha256, f"{path.name}: key '{record.name}'")
    ssm = client(args)
    # Decrypted to compare: an unchanged secret is not rewritten (no new version, honest summary).
    existing = read_tree(ssm, layout.prefix, decrypt=True)
    secrets = resolve_secrets(config, layout, existing, ssm)
    protected = set(secrets.kept)
    if secrets.missing:
        if not args.skip_missing:
            raise _missing_error(secrets.missing)
        skipped = sorted(secrets.missing)
        config = config.model_copy(update={"providers": {
            name: provider for name, provider in config.providers.items() if name not in secrets.missing}})
        # Whatever SSM already holds for a skipped provider stays, even with --prune.
        protected |= {name for p in skipped for name in (layout.provider(p), layout.api_key(p))}
        print(f"skipped (no credentials here): {', '.join(f'{p} ({secrets.missing[p]})' for p in skipped)}; "
              "their models answer 503 until the providers are pushed with credentials")
    try:
        desired = config_parameters(config, layout, secrets.values)
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
            ssm.put_parameter(Name=name, Value=param.value, Type=kind, Overwrite=True,
                              Tier="Intelligent-Tiering", **options)
    for name in sorted(protected & set(existing)):
        counts["unchanged"] += 1
        print(f"{'unchanged':9}  {name}  (kept as stored)")
    deleted = _prune(ssm, layout, sorted(set(existing) - set(desired) - protected), args, path, counts)
    if layout.key(DEV_KEY_SHA256) in existing and layout.key(DEV_KEY_SHA256) not in deleted:
        print(f"warning: {layout.key(DEV_KEY_SHA256)} is the public development key {DEV_KEY}; revoke it: "
              f"lambdagate keys revoke --sha256 {DEV_KEY_SHA256} --prefix {layout.prefix}", file=sys.stderr)
    summary = ", ".join(f"{n} {a}d" if a != "unchanged" else f"{n} unchanged" for a, n in counts.items())
    print(summary + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def _prune(ssm: SSMClient, layout: SsmLayout, stale: list[str], args: argparse.Namespace, path: Path,
           counts: dict[str, int]) -> set[str]:
    """Delete or list the parameters the file lacks; client keys only with ``--prune-keys``."""
    deleted = set()
    for name in stale:
        kind = layout.classify(name)
        is_key = kind is not None and kind[0] == "key"
        if args.prune_keys if is_key else args.prune:
            counts["delete"] += 1
            deleted.add(name)
            print(f"{'delete':9}  {name}")
            if not args.dry_run:
                ssm.delete_parameter(Name=name)
        elif is_key:
            print(f"{'extra':9}  {name}  (a client key not in {path.name}; kept, --prune-keys deletes it)")
        else:
            print(f"{'extra':9}  {name}  (not in {path.name}; --prune deletes it)")
    return deleted


def add_parser(commands: Any) -> None:
    push = commands.add_parser("push", help="write a local config file into SSM (secrets as SecureString)")
    push.add_argument("file", help="gateway.yaml or .json")
    push.add_argument("--prefix", required=True, help="SSM parameter prefix of the deployment, e.g. /lambdagate")
    push.add_argument("--region", help="AWS region (default: the AWS CLI/SDK configuration)")
    push.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    push.add_argument("--prune", action="store_true",
                      help="delete parameters under the prefix that the file lacks (client keys excepted)")
    push.add_argument("--prune-keys", action="store_true",
                      help="also delete client keys under the prefix that the file lacks (keys made by `keys create`)")
    push.add_argument("--skip-missing", action="store_true",
                      help="push without the providers whose api_key cannot be resolved here, and say which")
    push.add_argument("--kms-key-id", help="KMS key for SecureString parameters (default: aws/ssm)")
    push.set_defaults(handler=config_push)
