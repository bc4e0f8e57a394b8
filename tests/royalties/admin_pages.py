"""Reading the royalties admin pages in tests: a table's rows as text, the page's messages."""

import html
import re

from django.test import Client
from django.urls import reverse


def table(page: str, table_id: str) -> list[list[str]]:
    """The rows of ``<table id=table_id>`` as lists of cell texts (tags stripped, a line break
    as a newline)."""
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert match, f"no table {table_id}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell.replace("<br>", "\n"))).strip()
            for cell in cells
        ]
        for row in rows
        if (cells := re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S))
    ]


def text_of(page: str, element_id: str) -> str:
    """The text of the element with that id, whitespace collapsed."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|ul|div)>', page, re.S)
    assert match, f"no element {element_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def links_of(page: str, element_id: str) -> list[tuple[str, str]]:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</p>', page, re.S)
    assert match, f"no element {element_id}"
    return [
        (html.unescape(href), text)
        for href, text in re.findall(r'<a href="([^"]+)">([^<]+)</a>', match.group(1))
    ]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def run_page(client: Client, run_id: int) -> str:
    response = client.get(reverse("admin:royalties_run_change", args=[run_id]))
    assert response.status_code == 200
    return response.content.decode()
