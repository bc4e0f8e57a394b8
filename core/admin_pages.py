"""Every page of the admin, read from the admin site itself: the index, each app's page, and
for each registered model its list, its add form (where the admin allows adding), the page of
one existing object and each view its ``ModelAdmin`` adds in ``get_urls()`` (but those it names
in ``not_pages``: actions and downloads). A ModelAdmin whose add form has its own title says so
in ``add_view_title``.

The browser test of every admin page and ``manage.py admin_screenshots`` walk this list, so a
model registered tomorrow is tested and photographed without editing either. A spec names a
page without touching the database (tests are parametrized with them at collection); it is
resolved into a URL and the expected title for a signed-in user, which needs an object for the
pages that show one.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model
from django.http import HttpRequest
from django.urls import URLPattern, reverse

# ModelAdmin URL names Django gives every model (``<app>_<model>_<suffix>``); any other named
# URL of a ModelAdmin is a custom view.
STANDARD_SUFFIXES = frozenset({"changelist", "add", "change", "delete", "history"})


class Kind(StrEnum):
    INDEX = "index"
    APP = "app"
    CHANGELIST = "changelist"
    ADD = "add"
    CHANGE = "change"
    CUSTOM = "custom"
    PASSWORD_CHANGE = "password_change"


@dataclass(frozen=True)
class AdminPageSpec:
    """One page of the admin, named (``royalties.run:change``), not yet resolved."""

    kind: Kind
    app_label: str = ""
    model: type[Model] | None = None
    url_name: str = ""
    url_arguments: int = 0

    @property
    def name(self) -> str:
        if self.kind in (Kind.INDEX, Kind.PASSWORD_CHANGE):
            return str(self.kind)
        if self.kind is Kind.APP:
            return f"{self.app_label}:app"
        assert self.model is not None
        label = self.model._meta.label_lower
        return f"{label}:{self.url_name}" if self.kind is Kind.CUSTOM else f"{label}:{self.kind}"


@dataclass(frozen=True)
class AdminPage:
    """A page to open: its path and the ``<title>`` it must have (None: the view sets its own,
    which only needs to end with the site's title)."""

    name: str
    path: str
    title: str | None


def admin_page_specs(
    *, request: HttpRequest, site: admin.AdminSite = admin.site
) -> list[AdminPageSpec]:
    """Every page of ``site`` that ``request.user`` may open (add forms only where the admin
    allows adding), in the order of its app list: index, apps, then models."""
    specs = [AdminPageSpec(Kind.INDEX), AdminPageSpec(Kind.PASSWORD_CHANGE)]
    registry: dict[type[Model], admin.ModelAdmin[Any]] = site._registry
    for app_label in sorted({model._meta.app_label for model in registry}):
        specs.append(AdminPageSpec(Kind.APP, app_label=app_label))
    for model, model_admin in sorted(registry.items(), key=lambda item: item[0]._meta.label):
        specs.extend(_model_specs(model, model_admin, request))
    return specs


def _model_specs(
    model: type[Model], model_admin: admin.ModelAdmin[Any], request: HttpRequest
) -> list[AdminPageSpec]:
    app_label = model._meta.app_label
    kinds = [Kind.CHANGELIST, Kind.CHANGE]
    if model_admin.has_add_permission(request):
        kinds.insert(1, Kind.ADD)
    specs = [AdminPageSpec(kind, app_label=app_label, model=model) for kind in kinds]
    standard = {f"{app_label}_{model._meta.model_name}_{suffix}" for suffix in STANDARD_SUFFIXES}
    # Views that are not pages (a POST-only action, a download) are named by the ModelAdmin in
    # ``not_pages``; their own tests cover them.
    skip = standard | set(getattr(model_admin, "not_pages", ()))
    for pattern in model_admin.get_urls():
        if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in skip:
            arguments = len(pattern.pattern.converters)
            specs.append(
                AdminPageSpec(Kind.CUSTOM, app_label, model, pattern.name, url_arguments=arguments)
            )
    return specs


def admin_page_resolve(
    spec: AdminPageSpec, *, request: HttpRequest, site: admin.AdminSite = admin.site
) -> AdminPage | None:
    """The page ``spec`` names, as ``request.user`` sees it; None when it needs an object and
    none exists (or a custom view takes more than one argument)."""
    suffix = f" | {site.site_title}"
    if spec.kind is Kind.INDEX:
        return AdminPage(spec.name, reverse(f"{site.name}:index"), f"{site.index_title}{suffix}")
    if spec.kind is Kind.PASSWORD_CHANGE:
        path = reverse(f"{site.name}:password_change")
        return AdminPage(spec.name, path, f"Password change{suffix}")
    if spec.kind is Kind.APP:
        return _app_page(spec, site, suffix)
    assert spec.model is not None
    model_admin = site._registry[spec.model]
    if spec.kind is Kind.CUSTOM:
        return _custom_page(spec, model_admin, request, site)
    return _model_page(spec, model_admin, request, site, suffix)


def _app_page(spec: AdminPageSpec, site: admin.AdminSite, suffix: str) -> AdminPage:
    from django.apps import apps

    verbose = apps.get_app_config(spec.app_label).verbose_name
    path = reverse(f"{site.name}:app_list", kwargs={"app_label": spec.app_label})
    return AdminPage(spec.name, path, f"{verbose} administration{suffix}")


def _first_object(model_admin: admin.ModelAdmin[Any], request: HttpRequest) -> Model | None:
    first: Model | None = model_admin.get_queryset(request).order_by("pk").first()
    return first


def _model_page(
    spec: AdminPageSpec,
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    site: admin.AdminSite,
    suffix: str,
) -> AdminPage | None:
    opts = model_admin.opts
    url = f"{site.name}:{opts.app_label}_{opts.model_name}_{spec.kind}"
    if spec.kind is Kind.CHANGELIST:
        verb = "change" if model_admin.has_change_permission(request) else "view"
        return AdminPage(spec.name, reverse(url), f"Select {opts.verbose_name} to {verb}{suffix}")
    if spec.kind is Kind.ADD:
        title = getattr(model_admin, "add_view_title", f"Add {opts.verbose_name}")
        return AdminPage(spec.name, reverse(url), f"{title}{suffix}")
    obj = _first_object(model_admin, request)
    if obj is None:
        return None
    verb = "Change" if model_admin.has_change_permission(request, obj) else "View"
    title = f"{obj} | {verb} {opts.verbose_name}{suffix}"
    return AdminPage(spec.name, reverse(url, args=[quote(obj.pk)]), title)


def _custom_page(
    spec: AdminPageSpec,
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    site: admin.AdminSite,
) -> AdminPage | None:
    """A view a ModelAdmin adds: opened as is, or with the key of its model's first object when
    its URL takes one argument (a page about one object). Views with more arguments need values
    only their own tests know, and are left to those."""
    args: list[str] = []
    if spec.url_arguments > 1:
        return None
    if spec.url_arguments == 1:
        obj = _first_object(model_admin, request)
        if obj is None:
            return None
        args = [quote(obj.pk)]
    return AdminPage(spec.name, reverse(f"{site.name}:{spec.url_name}", args=args), None)


def admin_request(user: User | AnonymousUser) -> HttpRequest:
    """A request of ``user``, for the admin's permission checks outside a real request."""
    request = HttpRequest()
    request.user = user
    return request
