"""``lambdagate``: run the gateway locally and manage client keys.

    lambdagate serve [--config gateway.yaml] [--host 127.0.0.1] [--port 8000]
    lambdagate keys create --name NAME [--models a,b]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lambdagate.config import CONFIG_ENV


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lambdagate.api import create_app
    from lambdagate.config import load_store

    source = args.config or os.environ.get(CONFIG_ENV)
    if not source:
        print(f"error: pass --config or set {CONFIG_ENV}", file=sys.stderr)
        return 2
    app = create_app(load_store(source))
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from lambdagate.auth import generate_key, hash_key

    key = generate_key()
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    print(f"key (shown once, store it now): {key}")
    print("config entry (add under `keys:`):")
    entry = f"  - {{name: {args.name}, sha256: {hash_key(key)}"
    entry += f", models: [{', '.join(models)}]}}" if models else "}"
    print(entry)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdagate", description="Serverless OpenAI-compatible LLM gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway locally under uvicorn")
    serve.add_argument("--config", help=f"YAML/JSON config file or ssm:/prefix (default: ${CONFIG_ENV})")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=_serve)

    keys = commands.add_parser("keys", help="client API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="make a new key; prints it once and its config entry")
    create.add_argument("--name", required=True)
    create.add_argument("--models", help="comma-separated aliases or provider/model patterns (default: all)")
    create.set_defaults(handler=_keys_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
