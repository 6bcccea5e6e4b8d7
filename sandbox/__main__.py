"""Run the sandbox on its own: ``python -m sandbox --port 8081``.

Then point the bot at it (its Bot API base URL) and open the printed web chat URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from sandbox.persona import DEFAULT_PERSONAS
from sandbox.server import SandboxServer


async def _serve(args: argparse.Namespace) -> None:
    server = SandboxServer(
        token=args.token,
        host=args.host,
        port=args.port,
        bot_username=args.bot_username,
        bot_first_name=args.bot_name,
        personas=DEFAULT_PERSONAS,
    )
    await server.start()
    print(f"web chat:       {server.url}")
    print(f"bot token:      {server.token}")
    print(f"base_url:       {server.base_url}")
    print(f"base_file_url:  {server.base_file_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="voice_of_youth_bot")
    parser.add_argument("--bot-name", default="青年之声")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
