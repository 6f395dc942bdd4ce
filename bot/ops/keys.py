"""``moodcheck keys new`` and ``moodcheck keys rotate`` (docs/operations.md, "Data keys")."""

from __future__ import annotations

import sys

from bot.data_keys import KEYS_VAR, add_to_key_file, create_key_file, key_file, load_keyring
from bot.settings import Settings
from storage.crypto import key_id, new_key, parse_key
from storage.db import create_engine
from storage.rekey import Progress, rotate


def _say(text: str) -> None:
    print(text, file=sys.stderr)  # noqa: T201 - what the operator must know, apart from output


def keys_new(settings: Settings, *, only_print: bool = False) -> int:
    """Make a new data key: first in the key file (made if missing), or printed for
    MOODCHECK_DATA_KEYS when the keys come from there, no key file can be named, or
    ``only_print``."""
    path = key_file(settings)
    from_env = settings.data_keys is not None and settings.data_keys.get_secret_value().strip()
    if from_env or path is None or only_print:
        key = new_key()
        print(key)  # noqa: T201 - the command's output
        _say(
            f"key {key_id(parse_key(key))}: put it first in {KEYS_VAR} (keep the older keys "
            "after it), restart the bot, then run `moodcheck keys rotate`; back it up"
        )
        return 0
    if path.exists():
        load_keyring(settings)  # the file must be sound before it is rewritten
        kid = add_to_key_file(path)
        _say(
            f"added key {kid} first in {path}: back the file up, restart the bot, then run "
            "`moodcheck keys rotate`"
        )
        return 0
    kid = create_key_file(path)
    _say(f"created the data key file {path} (key {kid}, mode 0600): back it up now")
    return 0


async def keys_rotate(settings: Settings, batch: int) -> int:
    """Re-encrypt every stored value under the newest key, in batches, showing progress."""
    keyring = load_keyring(settings)
    engine = create_engine(settings.database_url, keyring=keyring)

    def show(step: Progress) -> None:
        _say(f"{step.column}: {step.done}/{step.total} re-encrypted")

    try:
        changed = await rotate(engine, batch=batch, progress=show)
    finally:
        await engine.dispose()
    older = [kid for kid in keyring.kids if kid != keyring.newest]
    _say(f"{changed} value(s) re-encrypted; every stored value is under key {keyring.newest}")
    if older:
        _say(
            f"key(s) {', '.join(older)} may now be removed; keep them (apart) while backups "
            "made before this rotation exist: those need them"
        )
    return 0
