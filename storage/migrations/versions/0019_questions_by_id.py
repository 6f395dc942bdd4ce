"""questions addressed by id: checkins.item (the id of the item being asked) replaces
checkins.position

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

A check-in that still takes answers (open, or answering the weekly part asked in a message of
its own) gets the id of the item at its position, in the questionnaire it was opened with as
the configuration loads it now; the ticked boxes of a multi-select in progress (``draft``)
follow. Every other check-in has nothing left to ask (NULL). The item ids come from the
caller, as the data keys do for 0014: ``moodcheck db upgrade`` passes those of its
configuration (``storage.migrate.upgrade(url, item_orders=...)``). This revision imports no
application code, so that it runs the same whatever the code becomes. A database with such
check-ins and no item ids stops here with one line saying so, before changing anything.

Upgrade before changing a questionnaire file: the positions stored here and in the buttons
already sent mean the items as they stood when they were written (docs/architecture.md,
"Questions are addressed by id").
"""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text(
    "SELECT id, questionnaire, position, draft FROM checkins WHERE status = 'open'"
    " OR (status IN ('completed', 'skipped') AND questionnaire LIKE :apart)"
).columns(draft=sa.JSON())
"""Check-ins whose position matters: open ones, and days whose weekly part has a message of
its own (a key with a "/", ``bot.config.day_questionnaire_id``) that may still be answering it."""
_APART = "%/%"


def _item_orders(needed: bool) -> Mapping[str, Sequence[str]]:
    """Questionnaire key -> its item ids in asking order, as the caller passed them."""
    config = op.get_context().config
    orders = None if config is None else config.attributes.get("item_orders")
    if orders is None:
        if needed:
            raise RuntimeError(
                "check-ins in progress name their question by position, and naming it by id "
                "needs the questionnaires: run `moodcheck db upgrade` with the configuration "
                "(MOODCHECK_CONFIG) the bot runs with"
            )
        return {}
    return dict(orders)


def _draft(draft: Any, old: str, new: str, change: Any) -> Any:
    """A multi-select's ticked boxes, keyed ``new`` instead of ``old`` (None: dropped)."""
    if not isinstance(draft, dict) or old not in draft:
        return draft
    converted = change(draft[old])
    if converted is None:
        return None
    rest = {key: value for key, value in draft.items() if key != old}
    return {new: converted, **rest}


def upgrade() -> None:
    bind = op.get_bind()
    live = bind.execute(_LIVE, {"apart": _APART}).all()
    orders = _item_orders(needed=bool(live))
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("item", sa.String(32), nullable=True))
    changes = []
    for checkin_id, key, position, draft in live:
        items = orders.get(key)
        if items is None:
            continue  # a questionnaire the configuration no longer has: it could not be asked

        def item_of(at: Any, items: Sequence[str] = items) -> str | None:
            return items[at] if isinstance(at, int) and 0 <= at < len(items) else None

        item, converted = item_of(position), _draft(draft, "position", "item", item_of)
        if item is not None or converted != draft:  # the column is NULL already
            changes.append({"checkin_id": checkin_id, "item": item, "draft": converted})
    if changes:
        bind.execute(
            sa.text("UPDATE checkins SET item = :item, draft = :draft WHERE id = :checkin_id")
            .bindparams(sa.bindparam("draft", type_=sa.JSON()))
            .bindparams(sa.bindparam("item", type_=sa.String(32))),
            changes,
        )
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("position")


def downgrade() -> None:
    bind = op.get_bind()
    named = bind.execute(
        sa.text(
            "SELECT id, questionnaire, item, draft FROM checkins WHERE item IS NOT NULL"
        ).columns(draft=sa.JSON())
    ).all()
    orders = _item_orders(needed=bool(named))
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("position", sa.SmallInteger(), nullable=True))
    changes = []
    for checkin_id, key, item, draft in named:
        items = list(orders.get(key, ()))

        def position_of(named_id: Any, items: list[str] = items) -> int | None:
            return items.index(named_id) if named_id in items else None

        changes.append(
            {
                "checkin_id": checkin_id,
                # An item the configuration does not have: its end (nothing left to ask).
                "position": position_of(item) if item in items else len(items),
                "draft": _draft(draft, "item", "position", position_of),
            }
        )
    if changes:
        bind.execute(
            sa.text(
                "UPDATE checkins SET position = :position, draft = :draft WHERE id = :checkin_id"
            ).bindparams(sa.bindparam("draft", type_=sa.JSON())),
            changes,
        )
    # Nothing left to ask: the old code reads any position before the weekly part as "not
    # answering it", so 0 is safe for every other row.
    bind.execute(sa.text("UPDATE checkins SET position = 0 WHERE position IS NULL"))
    with op.batch_alter_table("checkins") as batch:
        batch.alter_column("position", existing_type=sa.SmallInteger(), nullable=False)
        batch.drop_column("item")
