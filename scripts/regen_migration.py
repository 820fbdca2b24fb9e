"""Regenerate the initial migration from the models.

Until the first release there is one revision; after it, add revisions with
`alembic revision --autogenerate` instead and never rewrite a released one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from storage.migrate import MIGRATIONS, alembic_config


def main() -> None:
    target = MIGRATIONS / "versions" / "0001_initial_schema.py"
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = alembic_config(f"sqlite:///{Path(tmp) / 'gen.db'}")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
