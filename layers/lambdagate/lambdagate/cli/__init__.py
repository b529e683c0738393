"""``lambdagate``: run the gateway locally, keep its configuration in SSM, manage client keys, smoke-test a deploy.

    lambdagate serve [--config gateway.yaml | ssm:/prefix] [--host 127.0.0.1] [--port 8000]
    lambdagate config push gateway.yaml --prefix /lambdagate [--region R] [--dry-run] [--prune] [--prune-keys]
                                        [--skip-missing] [--kms-key-id K]
    lambdagate config pull --prefix /lambdagate [--region R]
    lambdagate keys create --name NAME [--models a,b] [--prefix /lambdagate] [--region R]
    lambdagate keys revoke (--sha256 HASH | --key KEY | --key -) --prefix /lambdagate [--region R]
    lambdagate keys list --prefix /lambdagate [--region R]
    lambdagate keys usage NAME (--config FILE | --prefix /lambdagate) [--store dynamodb:TABLE | sqlite:PATH]
    lambdagate teams create|update|list|show|delete [NAME] [--rpm N] [--tpm N] [--budget USD] [--store ...]
    lambdagate smoke --api-url URL --stream-url URL --key KEY [--models a,b] [--endpoints chat,...]

The commands that reach SSM need boto3 (``pip install 'lambdagate[aws]'``) and say so when it is
missing. Nothing here prints a secret, except a newly created client key, once. Each command is
a module of this package; this one only parses and reports errors as one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lambdagate.cli import keys, pull, push, serve, smoke
from lambdagate.cli import limits as limits_cli
from lambdagate.cli.common import CliError, command_name, missing_aws_error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdagate", description="Serverless OpenAI-compatible LLM gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(commands)
    config = commands.add_parser("config", help="configuration in SSM Parameter Store").add_subparsers(
        dest="config_command", required=True)
    push.add_parser(config)
    pull.add_parser(config)
    keys.add_parser(commands)
    limits_cli.add_teams_parser(commands)
    smoke.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except ModuleNotFoundError as exc:
        # The one missing module a user is expected to meet: the optional AWS SDK.
        if (exc.name or "").split(".")[0] not in ("boto3", "botocore"):
            raise
        print(f"error: {missing_aws_error(command_name(args))}", file=sys.stderr)
        return 1
    except Exception as exc:
        # AWS failures (no credentials, access denied, throttling) as one line, not a traceback.
        if type(exc).__module__.startswith(("botocore", "boto3")):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


__all__ = ["CliError", "build_parser", "main"]
