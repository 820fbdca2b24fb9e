"""`python -m bot.emulator --port 8081`: run the emulator until Ctrl-C, for poking with curl."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from bot.emulator.server import BotApiEmulator


def _parse_user(text: str) -> tuple[int, str]:
    user_id, _, name = text.partition(":")
    return int(user_id), name or f"User {user_id}"


async def _serve(args: argparse.Namespace) -> None:
    emu = BotApiEmulator(token=args.token, username=args.username, host=args.host,
                         port=args.port, poll_conflicts=not args.no_poll_conflicts,
                         rtt=args.rtt_ms / 1000)
    for user_id, name in args.user:
        emu.add_user(user_id, name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with emu:
        print(f"Bot API emulator listening on {emu.base_url}", flush=True)
        print(f"  token {emu.token}  bot @{emu.username}", flush=True)
        print(f"  aiogram / ZHITONG_TELEGRAM_API: {emu.api_url}", flush=True)
        print(f"  PTB: base_url={emu.ptb_base_url} base_file_url={emu.ptb_base_file_url}",
              flush=True)
        print(f"  try: curl {emu.method_url('getMe')}", flush=True)
        print(f"       curl -X POST {emu.base_url}/_emu/send_text "
              "-d '{\"user_id\": 1001, \"text\": \"/start\"}'", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.emulator",
                                     description="Telegram Bot API emulator on loopback")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--username", default="zhitong_demo_bot")
    parser.add_argument("--user", type=_parse_user, action="append", default=[],
                        metavar="ID:NAME", help="pre-register a person (repeatable)")
    parser.add_argument("--no-poll-conflicts", action="store_true",
                        help="do not end an older long poll with 409 when a newer one arrives")
    parser.add_argument("--rtt-ms", type=float, default=0.0, metavar="MS",
                        help="network round trip to add to every Bot API call (default 0)")
    args = parser.parse_args(argv)
    if args.rtt_ms < 0:
        parser.error("--rtt-ms must not be negative")
    if not args.user:
        args.user = [(1001, "Demo User")]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
