"""`zhitong demo`."""

from __future__ import annotations

import logging
import sys

import click


@click.command()
@click.option("--framework", type=click.Choice(["aiogram", "ptb"]), default="aiogram",
              show_default=True, help="用哪个 Telegram 框架运行机器人。")
@click.option("--keep", "workdir", type=click.Path(file_okay=False), default=None,
              help="把演示数据库留在这个目录(默认用完即删)。")
def demo(framework: str, workdir: str | None) -> None:
    """离线演示:真实机器人 + 内置 Bot API 模拟器,打印聊天记录和统计。"""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bot.demo import run_demo

    sys.exit(run_demo(click.echo, framework, workdir))
