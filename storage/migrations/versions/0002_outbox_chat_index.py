"""outbox: indexes by chat (a claim keeps each chat's order across senders)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Written out here, not imported: a migration must not change when the models do.
HOLDING = "status = 'pending' AND (claimed_until IS NOT NULL OR attempts > 0)"

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_chat_status', ['chat_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_outbox_chat_holding', ['chat_id', 'id'], unique=False,
                              sqlite_where=sa.text(HOLDING), postgresql_where=sa.text(HOLDING))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_chat_holding')
        batch_op.drop_index('ix_outbox_chat_status')
