"""Django's admin app with the platform's site (``INSTALLED_APPS`` lists this in place of
``django.contrib.admin``): the names and the dashboard of ``core/admin_site.py``."""

from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    default_site = "core.admin_site.PlatformAdminSite"
