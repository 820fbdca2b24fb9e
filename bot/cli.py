"""The `zhitong` command line (DESIGN §11). Each command lives in its own bot/cli_*.py module."""

from __future__ import annotations

import click

from bot.cli_core import db, tickets


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """项目直通车 Zhitong — 重点项目诉求直通车。"""



main.add_command(db)
main.add_command(tickets)


def _register_optional() -> None:
    """Commands whose modules are added as the product grows."""
    import importlib

    for module, name in (
        ("bot.cli_org", "org"),
        ("bot.cli_tag", "tag"),
        ("bot.cli_invite", "invite"),
        ("bot.cli_run", "run"),
        ("bot.cli_demo", "demo"),
        ("bot.cli_sweep", "sweep"),
        ("bot.cli_stats", "stats"),
        ("bot.cli_stats", "export"),
        ("bot.cli_stats", "dashboard"),
        ("bot.cli_projects", "projects"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        cmd = getattr(mod, name, None)
        if cmd is not None:
            main.add_command(cmd)


_register_optional()


if __name__ == "__main__":
    main()
