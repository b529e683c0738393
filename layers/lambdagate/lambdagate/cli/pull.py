"""``lambdagate config pull``: print the configuration stored in SSM as YAML, without secrets."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lambdagate.cli.common import CliError, client, layout, read_tree


def config_pull(args: argparse.Namespace) -> int:
    import yaml

    from lambdagate.cli.documents import parameters_config

    where = layout(args)
    # Not decrypted: SecureString values are never read, only their names.
    tree = read_tree(client(args), where.prefix, decrypt=False)
    if not tree:
        raise CliError(f"nothing stored under {where.prefix}")
    values = {name: value for name, (value, kind) in tree.items() if kind != "SecureString"}
    secure = [name for name, (_, kind) in tree.items() if kind == "SecureString"]
    for name in sorted(tree):
        if where.classify(name) is None:
            print(f"warning: {name} is not part of the layout; skipped", file=sys.stderr)
    document = parameters_config(values, secure, where)
    print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")
    return 0


def add_parser(commands: Any) -> None:
    pull = commands.add_parser("pull", help="print the config stored in SSM as YAML, without secrets")
    pull.add_argument("--prefix", required=True, help="SSM parameter prefix of the deployment, e.g. /lambdagate")
    pull.add_argument("--region", help="AWS region (default: the AWS CLI/SDK configuration)")
    pull.set_defaults(handler=config_pull)
