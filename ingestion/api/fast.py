"""``POST /liveEvent`` on the WSGI fast path (``core.fastpath``, decision 0073).

A configured secret, one valid event and a well-formed ``Idempotency-Key`` (or none): the event
is stored here and its 201 (or, for a repeated key, its 200) answered with the bytes
``LiveEventView`` would have sent. Anything else goes to the view untouched, which answers its
401 or 400 as before; an exception met while storing goes to the view to be raised there.
"""

from core.api.parsers import json_loads
from core.api.renderers import json_dumps
from core.fastpath import POST_VIEW_HEADERS, FastAnswer, FastRequest
from ingestion.api.authentication import secret_match
from ingestion.services import credential_id, event_accept
from ingestion.validation import event_validate, idempotency_key_validate


def live_event(request: FastRequest) -> FastAnswer | None:
    presented = request.header("HTTP_AUTHORIZATION")
    secret = secret_match(presented) if presented is not None else None
    if secret is None:
        return None
    try:
        data = json_loads(request.body)
    except ValueError:
        return None
    event, _ = event_validate(data)
    key, key_errors = idempotency_key_validate(request.header("HTTP_IDEMPOTENCY_KEY"))
    if event is None or key_errors:
        return None
    accepted = event_accept(
        credential=credential_id(secret=secret), event=event, idempotency_key=key
    )
    if accepted.duplicate:
        body = {"id": str(accepted.id), "status": "accepted", "duplicate": True}
        return FastAnswer(200, json_dumps(body), POST_VIEW_HEADERS)
    return FastAnswer(
        201, json_dumps({"id": str(accepted.id), "status": "accepted"}), POST_VIEW_HEADERS
    )
