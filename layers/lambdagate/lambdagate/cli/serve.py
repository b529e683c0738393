"""``lambdagate serve``: the gateway on this machine under uvicorn, on a config file or an SSM prefix."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import TYPE_CHECKING, Any

from lambdagate.cli.common import DEV_KEY, DEV_KEY_SHA256, require_aws
from lambdagate.config import CONFIG_ENV

if TYPE_CHECKING:
    from lambdagate.config.store import ConfigStore


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def dev_key_warning(store: ConfigStore, host: str) -> str | None:
    """Why serving on ``host`` is unsafe, if the public development key is configured and others can reach it."""
    if is_loopback(host):
        return None
    try:
        configured = store.key(DEV_KEY_SHA256) is not None
    except Exception:  # a store that cannot be read now will say so on the first request
        return None
    if not configured:
        return None
    return (f"warning: the public development key {DEV_KEY} is configured and {host} is not a loopback address: "
            "anyone who can reach this port can use the gateway; remove that key from the config")


def serve(args: argparse.Namespace) -> int:
    source = args.config or os.environ.get(CONFIG_ENV)
    if not source:
        print(f"error: pass --config or set {CONFIG_ENV}", file=sys.stderr)
        return 2
    if source.startswith("ssm:"):
        require_aws("lambdagate serve --config ssm:...")

    import logging

    import uvicorn

    from lambdagate.api import create_app
    from lambdagate.config import load_store

    # One JSON line per request (names, statuses, timings, tokens; never keys or prompts) on stderr.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    gateway_logger = logging.getLogger("lambdagate")
    gateway_logger.addHandler(handler)
    # uvicorn's levels include ``trace`` (5), which the logging module does not name.
    gateway_logger.setLevel(LOG_LEVELS[args.log_level])
    store = load_store(source)
    warning = dev_key_warning(store, args.host)
    if warning:
        print(warning, file=sys.stderr)
    app = create_app(store)
    from lambdagate import upstream_http

    upstream_http.prepare()  # the upstream client's imports and TLS context now, not in the first request
    print(f"lambdagate on http://{args.host}:{args.port}/v1 (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


LOG_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": 5}
"""uvicorn's log levels (``uvicorn.config.LOG_LEVELS``), named here so the parser needs no uvicorn import."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("serve", help="run the gateway locally under uvicorn")
    parser.add_argument("--config", help=f"YAML/JSON config file or ssm:/prefix (default: ${CONFIG_ENV})")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info", choices=list(LOG_LEVELS),
                        help="the gateway's and uvicorn's log level (default: info)")
    parser.set_defaults(handler=serve)
