"""Token authentication that reads the token, its user and the user's permissions at once.

DRF's ``TokenAuthentication`` reads the token and its user in one query; the permission check
that follows (``user.has_perms``) then reads the user's own permissions and their groups'
permissions in two more. This class reads all three in one round trip and fills the caches
Django's ``ModelBackend`` looks at, so a token request costs one query for its credentials
and none for its permissions. Nothing is remembered across requests: a revoked token, a
deactivated user or a withdrawn permission take effect on the next request.
"""

from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Model
from django.db.models.options import Options
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication as DrfTokenAuthentication
from rest_framework.authtoken.models import Token

from core.sql import RowLoader


def _through(model: type[Model], field: str) -> Options[Model]:
    """The options of a many-to-many field's through table."""
    relation: Any = model._meta.get_field(field).remote_field
    through = cast("type[Model]", relation.through)
    return through._meta


def _credentials_sql(users_loader: RowLoader[Any]) -> str:
    user_model = get_user_model()
    users = user_model._meta.db_table
    columns = users_loader.columns("u")
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


class TokenAuthentication(DrfTokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, in one query (see the module docstring).

    The statement is read through a plain cursor and the user built by ``core.sql.RowLoader``
    (the ORM's converters and ``Model.from_db``): a raw queryset cost about as much again as
    the round trip (docs/performance.md)."""

    _users: RowLoader[Any] | None = None
    _sql: dict[str, str] = {}  # per database vendor

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        if "\x00" in key:
            raise exceptions.AuthenticationFailed("Invalid token.")
        users = TokenAuthentication._users
        if users is None:
            users = TokenAuthentication._users = RowLoader(get_user_model())
        sql = TokenAuthentication._sql.get(connection.vendor)
        if sql is None:
            sql = TokenAuthentication._sql[connection.vendor] = _credentials_sql(users)
        with connection.cursor() as cursor:
            cursor.execute(sql, {"key": key})
            rows = cursor.fetchall()
        if not rows:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = users.load(rows[0])
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        names = {row[-1] for row in rows if row[-1] is not None}
        # ModelBackend.get_all_permissions() returns this cache when it is set.
        user._perm_cache = names
        token = Token(key=key, user=user)
        return user, token


__all__ = ["TokenAuthentication"]
