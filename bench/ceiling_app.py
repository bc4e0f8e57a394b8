"""The ceiling: one empty Django JSON view with no middleware and no apps.

Served by the same server as the platform, it is the fastest any Django endpoint can be on this
machine; every scenario reports its figure beside this one, measured in the same run.
"""

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-ceiling-only",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )

from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.urls import path


def empty(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("empty", empty)]

application = get_wsgi_application()
