"""Alembic environment: always run by RatingStore on a connection it hands over.

No alembic.ini and no logging set-up: the terminal migrates itself at start,
and its logging belongs to the application.
"""
from alembic import context

from kiosk.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
