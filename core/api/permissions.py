"""Django model permissions for every kind of API view.

Views with a queryset get DRF's ``DjangoModelPermissions`` (reads need the ``view`` permission).
Views without one declare ``required_permissions = {"GET": ["app.view_model"], ...}``; a method
a view does not list is allowed to superusers only.
"""

from typing import TYPE_CHECKING

from rest_framework.permissions import DjangoModelPermissions

if TYPE_CHECKING:  # rest_framework.views imports this module through the settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ModelPermissions(DjangoModelPermissions):
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        declared = getattr(view, "required_permissions", None)
        if declared is not None:
            method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
            perms = declared.get(method)
            if perms is None:
                return user.is_superuser
            return user.has_perms(perms)
        if getattr(view, "queryset", None) is not None:
            return super().has_permission(request, view)
        return user.is_superuser
