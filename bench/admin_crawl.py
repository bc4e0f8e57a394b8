"""Every admin page over the bench database, in process: ``python -m bench.admin_crawl``.

The pages come from the admin's registry, so a page added later is crawled without anyone
listing it: the dashboard, then for each registered model its changelist, each filter, sort and
page link that list draws (up to ``LINKS_PER_LIST``), and the change, delete and history pages
of one of its rows. Each page is fetched once by a signed-in superuser through Django's test
client (no HTTP: the page's own cost). Prints one JSON object: per-page seconds, statuses and
the process's peak memory. Run by ``bench/scenarios/admin_scale.py`` with the bench's settings.
"""

import json
import os
import re
import resource
import sys
import time

LINKS_PER_LIST = 25


def _changelists(site) -> dict:
    """Each registered model with a list page, and that page's URL."""
    from django.urls import NoReverseMatch, reverse

    lists = {}
    for model in site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        try:
            lists[model] = reverse("admin:{}_{}_changelist".format(*info))
        except NoReverseMatch:
            continue
    return lists


def _object_pages(model_admin, request) -> list[str]:
    """The change, delete and history pages of one row the model's list shows."""
    from django.urls import reverse

    obj = model_admin.get_queryset(request).order_by().first()
    if obj is None:
        return []
    info = (model_admin.opts.app_label, model_admin.opts.model_name)
    views = ("change", "delete", "history")
    return [reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk]) for view in views]


def crawl(username: str) -> dict:
    """Fetch every page as ``username`` (a superuser); the figures described above."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client, RequestFactory

    operator = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(operator)
    rows_request = RequestFactory().get("/admin/")
    rows_request.user = operator
    timings: list[tuple[float, int, str]] = []

    def fetch(url: str) -> str:
        started = time.perf_counter()
        try:
            response = client.get(url)
            status, body = response.status_code, response.content.decode(errors="replace")
        except Exception as exc:  # a statement timeout: recorded as the page's failure
            connection.close()
            status, body = 599, f"{type(exc).__name__}: {exc}"
        timings.append((round(time.perf_counter() - started, 3), status, url))
        return body

    fetch("/admin/")
    for model, url in _changelists(admin.site).items():
        body = fetch(url)
        links = sorted(set(re.findall(r'href="(\?[^"]+)"', body)))[:LINKS_PER_LIST]
        for link in links:
            fetch(url + link.replace("&amp;", "&"))
        for page in _object_pages(admin.site._registry[model], rows_request):
            fetch(page)
    seconds = sorted((t for t, _, _ in timings), reverse=True)
    return {
        "pages": len(timings),
        "statuses": {
            str(s): sum(1 for _, x, _ in timings if x == s)
            for s in sorted({x for _, x, _ in timings})
        },
        "pages_over_1s": sum(1 for t in seconds if t > 1),
        "median_s": seconds[len(seconds) // 2],
        "slowest": [[t, s, url] for t, s, url in sorted(timings, reverse=True)[:8]],
        "failed": [[t, s, url] for t, s, url in timings if s >= 500],
        "not_200": [[t, s, url] for t, s, url in timings if s != 200],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(crawl(os.environ["ADMIN_CRAWL_USER"])))
