"""Where the data keys come from (docs/operations.md, "Data keys").

``MOODCHECK_DATA_KEYS`` (keys separated by commas, newest first) wins; otherwise the key file
(``MOODCHECK_DATA_KEY_FILE``, one key a line, newest first, ``#`` comments), whose default for
a SQLite database is the database's path with ``.keys`` added. ``moodcheck db upgrade`` on a
new SQLite install makes that file (mode 0600) and says to back it up. Every failure is a
SettingsError: one line that names the setting, never a key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.settings import Settings, SettingsError
from storage.crypto import Keyring, key_id, new_key, parse_key, parse_keys

KEYS_VAR = "MOODCHECK_DATA_KEYS"
FILE_VAR = "MOODCHECK_DATA_KEY_FILE"
FILE_HEADER = (
    "# moodcheck data keys, newest first (docs/operations.md). Back this file up, apart from\n"
    "# the database: without it the patients' messages in the database cannot be read.\n"
)


def key_file(settings: Settings) -> Path | None:
    """The key file named by the settings, or beside a SQLite database file; else None."""
    if settings.data_key_file is not None:
        return settings.data_key_file
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.keys")
    return None


def _no_key(path: Path | None) -> SettingsError:
    if path is None:
        return SettingsError(
            f"no data key: set {KEYS_VAR} (`moodcheck keys new --print` makes a key) or "
            f"{FILE_VAR}; if the database holds data already, restore its keys from backup"
        )
    return SettingsError(
        f"no data key: {KEYS_VAR} is unset and the key file {path} does not exist: restore "
        "it from your backup (on a new install `moodcheck db upgrade` makes it)"
    )


def load_keyring(settings: Settings) -> Keyring:
    """The configured data keys; SettingsError (one line naming the setting) if none."""
    if settings.data_keys is not None and settings.data_keys.get_secret_value().strip():
        try:
            return Keyring(parse_keys(settings.data_keys.get_secret_value()))
        except ValueError as exc:
            raise SettingsError(f"{KEYS_VAR} is invalid: {exc}") from None
    path = key_file(settings)
    if path is None or not path.exists():
        raise _no_key(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"{FILE_VAR}: {path} may be read by other users: `chmod 600 {path}` (it holds keys)"
        )
    try:
        keys = parse_keys(path.read_text(encoding="utf-8"))
        return Keyring(keys)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{FILE_VAR}: {path} is unreadable or invalid: {exc}") from None


def create_key_file(path: Path) -> str:
    """Write a new key file holding one fresh key (mode 0600, never over an existing file);
    return the key's id."""
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(f"{FILE_HEADER}{key}\n")
    return key_id(parse_key(key))


def add_to_key_file(path: Path) -> str:
    """Put a new key first in an existing key file (the others stay, to decrypt); return its
    id. Written to a new file beside it, then renamed: a crash never leaves half a file."""
    key = new_key()
    old = path.read_text(encoding="utf-8")
    rest = old.removeprefix(FILE_HEADER)
    partial = path.with_name(f"{path.name}.new")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(f"{FILE_HEADER}{key}\n{rest}")
    partial.replace(path)
    return key_id(parse_key(key))
