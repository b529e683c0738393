"""What the CLI's commands share: one-line errors, the AWS extra, the SSM client, the development key."""

from __future__ import annotations

import argparse
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from lambdagate.config.ssm_layout import SsmLayout

AWS_EXTRA_HINT = "pip install 'lambdagate[aws]'"
DEV_KEY = "sk-lambdagate-dev"
"""The development key documented in the README and gateway.example.yaml: public, so never deployed."""
DEV_KEY_SHA256 = hashlib.sha256(DEV_KEY.encode()).hexdigest()


class CliError(Exception):
    """A problem the user can fix, reported as one line on stderr."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def missing_aws_error(command: str) -> CliError:
    return CliError(f"{command} needs boto3, which is not installed: {AWS_EXTRA_HINT}")


def require_aws(command: str) -> None:
    """Fail with the install hint, before any work, when boto3 (the ``aws`` extra) is missing."""
    try:
        import boto3  # noqa: F401 - the command needs it next anyway
    except ImportError:
        raise missing_aws_error(command) from None


def command_name(args: argparse.Namespace) -> str:
    parts = [getattr(args, name, None) for name in ("command", "config_command", "keys_command")]
    return "lambdagate " + " ".join(p for p in parts if p)


def layout(args: argparse.Namespace) -> SsmLayout:
    from lambdagate.config.ssm_layout import SsmLayout

    try:
        return SsmLayout.of(args.prefix)
    except ValueError as exc:
        raise CliError(str(exc), code=2) from None


def client(args: argparse.Namespace) -> SSMClient:
    require_aws(command_name(args))
    from lambdagate.config.ssm_cache import ssm_client

    # Patient, unlike the request path: PutParameter's default throughput is low.
    return ssm_client(args.region, retries=10, timeout=30)


def read_tree(ssm: SSMClient, path: str, *, decrypt: bool) -> dict[str, tuple[str, str]]:
    """Every parameter under ``path``: name -> (value, type)."""
    found: dict[str, tuple[str, str]] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True,
                                                                      WithDecryption=decrypt):
        for parameter in page.get("Parameters", []):
            found[parameter["Name"]] = (parameter["Value"], parameter["Type"])
    return found


def read_secret(ssm: SSMClient, name: str) -> str:
    from lambdagate.config.errors import SecretUnavailable

    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise SecretUnavailable(f"SSM parameter {name} does not exist") from None


def refuse_dev_key(sha256: str, where: str) -> None:
    """The development key is published in the README: a deployment that accepts it is open to anyone."""
    if sha256 == DEV_KEY_SHA256:
        raise CliError(f"{where} is the development key {DEV_KEY}, which is public and must never be deployed; "
                       "remove it and make a real key with `lambdagate keys create --prefix ...`", code=2)


def models_arg(value: str | None) -> list[str] | None:
    return [m.strip() for m in value.split(",") if m.strip()] if value else None
