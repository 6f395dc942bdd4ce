"""encryption at rest: encrypt the patient-written columns' existing rows

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-06

No schema change: the columns keep their types (TEXT, JSON) and now hold encrypted values
(storage/crypto.py). Rows written before are encrypted here, in batches, under the newest
data key. The keys come with the engine the migration runs on: ``moodcheck db upgrade`` binds
the configured ones (MOODCHECK_DATA_KEYS or the key file; on a new SQLite install it makes a
key file first), and ``storage.migrate.upgrade(url, keyring=...)`` does the same for code and
tests. A database with rows to encrypt and no key stops here with one line saying so.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.crypto import DataKeyError, is_token, keyring_of

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, holds JSON). The list as it stood at this revision: later columns are
# encrypted from their first row by their type.
COLUMNS = (
    ("patient_messages", "body", False),
    ("alerts", "details", True),
    ("outbox", "payload", True),
)
BATCH = 500
_EMPTY = frozenset({"{}", "null"})
"""JSON that holds nothing to hide: left as it is (storage.crypto.EncryptedJSON)."""


def _convert(change: Callable[[str, bool], Any]) -> None:
    """Rewrite every value that ``change`` (stored text, holds JSON) maps to a new value to
    store (None: leave it)."""
    bind = op.get_bind()
    for table, column, is_json in COLUMNS:
        last = 0
        value_type = sa.JSON() if is_json else sa.Text()
        update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id").bindparams(  # noqa: S608 - names from the list above
            sa.bindparam("value", type_=value_type)
        )
        while True:
            rows = bind.execute(
                sa.text(
                    f"SELECT id, CAST({column} AS TEXT) FROM {table} "  # noqa: S608
                    f"WHERE id > :last AND {column} IS NOT NULL ORDER BY id LIMIT {BATCH}"
                ),
                {"last": last},
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            changes = []
            for row_id, stored in rows:
                if stored is None or (is_json and stored in _EMPTY):
                    continue
                new = change(_json_string(stored) if is_json else stored, is_json)
                if new is not None:
                    changes.append({"id": row_id, "value": new})
            if changes:
                bind.execute(update, changes)


def _json_string(stored: str) -> str:
    """A JSON column's stored text as the codec sees it: the string an encrypted value is
    (JSON-quoted in the column), or the object's JSON text as it was written."""
    if stored.startswith('"'):
        decoded = json.loads(stored)
        if isinstance(decoded, str):
            return decoded
    return stored


def upgrade() -> None:
    bind = op.get_bind()

    def encrypt(value: str, _is_json: bool) -> str | None:
        if is_token(value):
            return None  # already encrypted (a run that stopped half-way)
        try:
            keyring = keyring_of(bind.dialect)
        except DataKeyError as error:
            raise RuntimeError(
                f"rows written before encryption must be encrypted, and {error}"
            ) from None
        return keyring.encrypt(value)

    _convert(encrypt)


def downgrade() -> None:
    bind = op.get_bind()

    def decrypt(value: str, is_json: bool) -> Any:
        if not is_token(value):
            return None
        plain = keyring_of(bind.dialect).decrypt(value)
        return json.loads(plain) if is_json else plain

    _convert(decrypt)
