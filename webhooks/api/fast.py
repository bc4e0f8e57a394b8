"""``POST /webhook`` and ``POST /api/webhooks/collections`` on the WSGI fast path
(``core.fastpath``, decision 0073).

A valid request within the client's submit limit is stored here and its 202 answered with the
bytes the view would have sent. An invalid one goes to the view untouched (which counts it
against the limit and answers its 400); one over the limit goes to the view with the limit's
decision, which the view's throttle answers (429) without counting the request again.
"""

from typing import Any

from django.http.request import HttpHeaders
from django.urls import reverse

from core.api.parsers import json_loads
from core.api.renderers import json_dumps
from core.api.serializers import output_data
from core.fastpath import FastAnswer, FastRequest, Handover
from webhooks.api.serializers import CollectionAcceptedOutputSerializer, CollectionInputSerializer
from webhooks.api.throttling import SubmitThrottle
from webhooks.services import collection_create

# What the collection views' answers carry besides the middleware's headers (DRF's Allow, Vary).
VIEW_HEADERS = (("Vary", "Accept"), ("Allow", "POST, OPTIONS"))


class _Meta:
    """What DRF's ``get_ident`` reads of a request: its WSGI environ and its headers."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.META = environ
        self.headers = HttpHeaders(environ)


def collection_create_fast(request: FastRequest) -> FastAnswer | Handover | None:
    try:
        data = json_loads(request.body)
    except ValueError:
        return None
    serializer = CollectionInputSerializer(data=data)
    if not serializer.is_valid():
        return None
    decision = SubmitThrottle().decision(_Meta(request.environ), None)  # type: ignore[arg-type]
    if decision is not None and not decision.allowed:
        return Handover(decision)
    created = collection_create(
        providers=serializer.validated_data["provider"],
        callback_url=serializer.validated_data["callbackUrl"],
    )
    body = {
        "id": created.pk,
        "status": created.status,
        "providers": created.providers,
        "status_url": request.absolute_uri(
            reverse("webhooks-collection-detail", args=[created.pk])
        ),
    }
    output = output_data(CollectionAcceptedOutputSerializer, body)
    return FastAnswer(202, json_dumps(output), VIEW_HEADERS)
