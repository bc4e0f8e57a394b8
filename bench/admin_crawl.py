"""Every admin page over the bench database, in process: ``python -m bench.admin_crawl``.

The pages are the ones the browser tests open (``core.admin_pages``: read from the admin's
registry, so a page added later is crawled without anyone listing it): the dashboard, each
app's page, each model's list, add form, one row's page and the views its admin adds. On top of
those, each filter, sort and page link a list draws (up to ``LINKS_PER_LIST``) and the delete
and history pages of the row. Each page is fetched once by a signed-in superuser through
Django's test client (no HTTP: the page's own cost). Prints one JSON object: per-page seconds,
statuses and the process's peak memory. Run by ``bench/scenarios/admin_scale.py`` with the
bench's settings.
"""

import json
import os
import re
import resource
import sys
import time

LINKS_PER_LIST = 25


def crawl(username: str) -> dict:
    """Fetch every page as ``username`` (a superuser); the figures described above."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from core.admin_pages import Kind, admin_page_resolve, admin_page_specs, admin_request

    operator = get_user_model().objects.get(username=username)
    client = Client()
    client.force_login(operator)
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

    request = admin_request(operator)
    for spec in admin_page_specs(request=request):
        page = admin_page_resolve(spec, request=request)
        if page is None:
            continue
        body = fetch(page.path)
        if spec.kind is Kind.CHANGELIST:
            links = sorted(set(re.findall(r'href="(\?[^"]+)"', body)))[:LINKS_PER_LIST]
            for link in links:
                fetch(page.path + link.replace("&amp;", "&"))
        elif spec.kind is Kind.CHANGE:
            for view in ("delete", "history"):
                fetch(page.path.removesuffix("change/") + f"{view}/")
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
