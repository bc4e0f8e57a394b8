"""Token authentication that reads the token, its user and the user's permissions at once.

DRF's ``TokenAuthentication`` reads the token and its user in one query; the permission check
that follows (``user.has_perms``) then reads the user's own permissions and their groups'
permissions in two more. This class reads all three in one round trip and fills the caches
Django's ``ModelBackend`` looks at, so a token request costs one query for its credentials
and none for its permissions. Nothing is remembered across requests: a revoked token, a
deactivated user or a withdrawn permission take effect on the next request.
"""

from collections.abc import Callable
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import Col
from django.db.models.options import Options
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication as DrfTokenAuthentication
from rest_framework.authtoken.models import Token


def _through(model: type[Model], field: str) -> Options[Model]:
    """The options of a many-to-many field's through table."""
    relation: Any = model._meta.get_field(field).remote_field
    through = cast("type[Model]", relation.through)
    return through._meta


def _user_fields() -> list[Field[Any, Any]]:
    return list(get_user_model()._meta.concrete_fields)


def _user_columns() -> list[str]:
    """The user table's columns in the order of the model's concrete fields (``from_db``'s)."""
    return [cast("str", field.column) for field in _user_fields()]


def _credentials_sql() -> str:
    user_model = get_user_model()
    users = user_model._meta.db_table
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(column)}" for column in _user_columns())
    user_perms = _through(user_model, "user_permissions")
    user_groups = _through(user_model, "groups")
    group_perms = _through(Group, "permissions")
    tokens = Token._meta.db_table
    perms = Permission._meta.db_table
    types = ContentType._meta.db_table
    perm_name = "ct.app_label || '.' || p.codename"
    token_user = f"(SELECT user_id FROM {tokens} WHERE key = %(key)s)"
    return f"""
SELECT {columns}, perm.name AS token_permission FROM {tokens} t
JOIN {users} u ON u.id = t.user_id
LEFT JOIN (
    SELECT {perm_name} AS name FROM {user_perms.db_table} up
    JOIN {perms} p ON p.id = up.permission_id JOIN {types} ct ON ct.id = p.content_type_id
    WHERE up.user_id = {token_user}
    UNION
    SELECT {perm_name} FROM {user_groups.db_table} ug
    JOIN {group_perms.db_table} gp ON gp.group_id = ug.group_id
    JOIN {perms} p ON p.id = gp.permission_id JOIN {types} ct ON ct.id = p.content_type_id
    WHERE ug.user_id = {token_user}
) perm ON 1 = 1
WHERE t.key = %(key)s
"""


Converter = Callable[[Any, Any, Any], Any]


def _user_converters() -> list[tuple[int, Col, list[Converter]]]:
    """The database's and the fields' converters of each user column, as the ORM's compiler
    applies them (SQLite, for one, returns datetimes as text)."""
    users = get_user_model()._meta.db_table
    converters = []
    for index, field in enumerate(_user_fields()):
        column = Col(users, field)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    return converters


class TokenAuthentication(DrfTokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, in one query (see the module docstring).

    The statement is read through a plain cursor and the user built with ``Model.from_db``,
    the ORM's own constructor for loaded rows: a raw queryset costs about as much again as
    the round trip (docs/performance.md)."""

    # Per database vendor: the statement, the columns' converters, the fields' attribute names.
    _prepared: dict[str, tuple[str, list[tuple[int, Col, list[Converter]]], list[str]]] = {}

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if "\x00" in key:
            raise exceptions.AuthenticationFailed("Invalid token.")
        prepared = TokenAuthentication._prepared.get(connection.vendor)
        if prepared is None:
            attnames = [field.attname for field in _user_fields()]
            prepared = (_credentials_sql(), _user_converters(), attnames)
            TokenAuthentication._prepared[connection.vendor] = prepared
        sql, converters, attnames = prepared
        with connection.cursor() as cursor:
            cursor.execute(sql, {"key": key})
            rows = cursor.fetchall()
        if not rows:
            raise exceptions.AuthenticationFailed("Invalid token.")
        values = list(rows[0][:-1])
        for index, column, functions in converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        user_model = get_user_model()
        user: Any = user_model.from_db(connection.alias, attnames, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        names = {row[-1] for row in rows if row[-1] is not None}
        # ModelBackend.get_all_permissions() returns this cache when it is set.
        user._perm_cache = names
        token = Token(key=key, user=user)
        return user, token


__all__ = ["TokenAuthentication"]
