"""Validation and quoting of SQL identifiers and literals that come from feed declarations.

Everything that ends up inside rendered SQL goes through here first, so a table or
column name can never smuggle SQL into a trigger or a query.
"""

from __future__ import annotations

import re

from dnf_core.errors import ConfigurationError

# Postgres truncates identifiers at 63 bytes; accepting longer ones would make two
# declared names silently collide.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Feed ids become part of function and trigger names, so they are kept short.
_FEED_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Types of primary keys the pipeline can cast outbox keys back to.
_KEY_TYPES = frozenset({"integer", "bigint", "smallint", "uuid", "text", "varchar"})


def validate_identifier(name: str, what: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise ConfigurationError."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigurationError(
            f"{what} {name!r} is not a plain SQL identifier "
            "(letters, digits and underscores, at most 63, not starting with a digit)"
        )
    return name


def validate_feed_id(feed_id: str) -> str:
    """Return ``feed_id`` if it is valid (lowercase, digits, underscores, at most 40)."""
    if not isinstance(feed_id, str) or not _FEED_ID.match(feed_id):
        raise ConfigurationError(
            f"feed_id {feed_id!r} is invalid: use lowercase letters, digits and underscores, "
            "start with a letter, at most 40 characters"
        )
    return feed_id


def validate_key_type(key_type: str, what: str) -> str:
    """Return ``key_type`` if the pipeline knows how to cast keys to it."""
    if key_type not in _KEY_TYPES:
        raise ConfigurationError(
            f"{what} has column type {key_type!r}; supported key types are "
            + ", ".join(sorted(_KEY_TYPES))
        )
    return key_type


def quote_identifier(name: str) -> str:
    """Double-quote a validated identifier (keeps case, shields reserved words)."""
    return '"' + validate_identifier(name, "identifier") + '"'


def quote_literal(value: str) -> str:
    """Quote a string as a SQL literal (standard_conforming_strings is on since Postgres 9.1)."""
    if "\x00" in value:
        raise ConfigurationError("SQL literals cannot contain NUL characters")
    return "'" + value.replace("'", "''") + "'"
