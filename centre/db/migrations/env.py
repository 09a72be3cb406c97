"""Alembic environment of the centre's database: always run by centre.db.schema.upgrade on a connection it
hands over, inside the one transaction (and lock) of the whole upgrade.

No alembic.ini and no logging set-up: `evaluator centre migrate` and `serve` run it, and their logging
belongs to the application.
"""
from alembic import context

from centre.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
