"""WSGI entry point (the production server runs config.wsgi:application; see config/server.py).

The fast path (``core.fastpath``, decision 0073) takes the hot ingest requests it can answer
before Django's handler; every other request goes straight to Django.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from core.fastpath import FastPathApplication  # noqa: E402  (needs the settings configured)
from core.warmup import process_warm  # noqa: E402

process_warm()
application = FastPathApplication(django_application)
