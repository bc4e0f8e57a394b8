"""Screenshots of every admin page, for the docs and for a look at what operators see."""

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.admin_pages import AdminPage, admin_page_resolve, admin_page_specs, admin_request
from core.browser import browser_unavailable_reason
from core.screenshots import screenshots_take, session_key_create, web_server_running


class Command(BaseCommand):
    help = (
        "Write one PNG (1366x900) per admin page: the index, each app's page, and per model "
        "its list, add form, one object's page and its own views (the list of the browser "
        "tests, core/admin_pages.py). Signs in as a superuser of this database; starts its own "
        "web server unless --base-url names one already serving this database. Needs Chromium "
        "(apt-get install chromium) and the development dependencies (playwright)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            default=Path(settings.BASE_DIR) / "docs" / "screenshots",
            help="directory for the PNG files (default: docs/screenshots/)",
        )
        parser.add_argument(
            "--base-url",
            help="a server already running on this database, e.g. http://127.0.0.1:8000 "
            "(default: start one on a free local port for the run)",
        )
        parser.add_argument(
            "--username",
            default=settings.DEMO_OPERATOR_USERNAME,
            help="the superuser whose session the pages are seen with (default: %(default)s)",
        )
        parser.add_argument(
            "--pages",
            nargs="+",
            metavar="NAME",
            help="only the pages whose name starts with one of these (names as in the browser "
            "test's ids: index, royalties:app, royalties.run:changelist, streams.viewer ...)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        reason = browser_unavailable_reason()
        if reason is not None:
            raise CommandError(f"cannot take screenshots: {reason}")
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None or not (user.is_active and user.is_superuser):
            raise CommandError(
                f"no active superuser {options['username']!r} in this database "
                "(manage.py load_demo creates the demo operator; or pass --username)"
            )
        pages = self._pages(user, prefixes=options["pages"])
        session_key = session_key_create(user)
        base_url = options["base_url"]
        server = web_server_running() if base_url is None else nullcontext(base_url.rstrip("/"))
        with server as url:
            shots = screenshots_take(
                pages=pages, base_url=url, session_key=session_key, output_dir=options["output"]
            )
        failures = []
        for shot in shots:
            self.stdout.write(f"{shot.status} {shot.file}")
            if shot.status >= 400 or shot.problems:
                failures.append(f"{shot.page.path}: {shot.status} {'; '.join(shot.problems)}")
        self.stdout.write(f"{len(shots)} screenshots in {options['output']}")
        if failures:
            raise CommandError("pages with problems:\n" + "\n".join(failures))

    def _pages(self, user: Any, *, prefixes: list[str] | None) -> list[AdminPage]:
        request = admin_request(user)
        pages = []
        for spec in admin_page_specs(request=request):
            if prefixes and not spec.name.startswith(tuple(prefixes)):
                continue
            page = admin_page_resolve(spec, request=request)
            if page is None:
                self.stderr.write(f"skipped {spec.name}: no object to show")
                continue
            pages.append(page)
        if not pages:
            raise CommandError(f"no admin page matches {' '.join(prefixes or [])}")
        return pages
