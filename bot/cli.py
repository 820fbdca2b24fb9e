"""The `zhitong` command line (DESIGN §11). Each command lives in its own bot/cli_*.py module,
imported only when that command runs: `zhitong tag` must not pay for openpyxl or the ORM."""

from __future__ import annotations

import importlib

import click

# command name → (module, attribute)
COMMANDS: dict[str, tuple[str, str]] = {
    "dashboard": ("bot.cli_stats", "dashboard"),
    "db": ("bot.cli_core", "db"),
    "demo": ("bot.cli_demo", "demo"),
    "export": ("bot.cli_stats", "export"),
    "invite": ("bot.cli_invite", "invite"),
    "org": ("bot.cli_org", "org"),
    "projects": ("bot.cli_projects", "projects"),
    "run": ("bot.cli_run", "run"),
    "stats": ("bot.cli_stats", "stats"),
    "sweep": ("bot.cli_sweep", "sweep"),
    "tag": ("bot.cli_tag", "tag"),
    "tickets": ("bot.cli_core", "tickets"),
    "webhook": ("bot.cli_webhook", "webhook"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        command = getattr(importlib.import_module(target[0]), target[1])
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """项目直通车 Zhitong — 重点项目诉求直通车。"""


if __name__ == "__main__":
    main()
