"""``POST /webhook``, ``POST /api/webhooks/collections`` and the known mock providers'
``GET /providers/{name}`` on the WSGI fast path (``core.fastpath``, decision 0073).

A valid request within the client's submit limit is stored here and its 202 answered with the
bytes the view would have sent. An invalid one goes to the view untouched (which counts it
against the limit and answers its 400); one over the limit goes to the view with the limit's
decision, which the view's throttle answers (429) without counting the request again.
"""

import uuid
from functools import cached_property, lru_cache
from typing import Any

from django.http.request import HttpHeaders
from django.urls import get_script_prefix, reverse

from core.api.parsers import json_loads
from core.api.renderers import json_dumps
from core.fastpath import POST_VIEW_HEADERS, FastAnswer, FastRequest, Handover
from webhooks.api.serializers import (
    CollectionInputSerializer,
    collection_accepted_output,
    collection_input_at_once,
)
from webhooks.api.throttling import SubmitThrottle
from webhooks.netguard import CallbackRefusedError
from webhooks.providers import mock_provider_answer
from webhooks.services import collection_create


class _Meta:
    """What DRF's ``get_ident`` reads of a request: its WSGI environ and its headers."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ

    @cached_property
    def headers(self) -> HttpHeaders:
        return HttpHeaders(self.META)


_SENTINEL = uuid.UUID(int=0)


@lru_cache(maxsize=16)
def _detail_path(script_prefix: str) -> tuple[str, str]:
    """The request's status path around its id, for the script prefix: what ``reverse``
    gives, without resolving the URLconf on every request."""
    head, _, tail = reverse("webhooks-collection-detail", args=[_SENTINEL]).partition(
        str(_SENTINEL)
    )
    return head, tail


def _validated(data: Any) -> tuple[list[str], str] | None:
    """The input the serializer would validate, or None when it would refuse it."""
    try:
        valid = collection_input_at_once(data)
    except CallbackRefusedError:
        return None  # the view's serializer refuses it and words the error
    if valid is not None:
        return valid
    serializer = CollectionInputSerializer(data=data)
    if not serializer.is_valid():
        return None
    return serializer.validated_data["provider"], serializer.validated_data["callbackUrl"]


def collection_create_fast(request: FastRequest) -> FastAnswer | Handover | None:
    try:
        data = json_loads(request.body)
    except ValueError:
        return None
    valid = _validated(data)
    if valid is None:
        return None
    decision = SubmitThrottle().decision(_Meta(request.environ), None)  # type: ignore[arg-type]
    if decision is not None and not decision.allowed:
        return Handover(decision)
    created = collection_create(providers=valid[0], callback_url=valid[1])
    head, tail = _detail_path(get_script_prefix())
    output = collection_accepted_output(created, request.absolute_uri(f"{head}{created.pk}{tail}"))
    return FastAnswer(202, json_dumps(output), POST_VIEW_HEADERS)


# What MockProviderView's answers carry besides the middleware's headers (DRF's).
MOCK_PROVIDER_VIEW_HEADERS = (("Vary", "Accept"), ("Allow", "GET, HEAD, OPTIONS"))


def mock_provider_fast(request: FastRequest) -> FastAnswer | None:
    """A known mock provider's answer (its payload or an injected failure), as the view gives
    it. A 404 (the mock providers switched off) goes to the view, which logs it."""
    name = request.environ["PATH_INFO"].rsplit("/", 1)[1]
    answer = mock_provider_answer(name=name)
    if answer.status == 404:
        return None
    return FastAnswer(answer.status, answer.body, MOCK_PROVIDER_VIEW_HEADERS, answer.content_type)
