"""``POST /api/analytics/collect`` on the WSGI fast path (``core.fastpath``, decision 0073).

One event with a known key, valid, admitted and stored: the 202 is answered here, with the
bytes ``CollectView`` would have sent. Anything else goes to ``CollectView``: untouched when
nothing was done yet (no key, a bad body, a batch), or with the admission already made (a key
revoked or over its limit, the database failing), which the view answers without admitting the
request a second time.
"""

from analytics.admission import api_key_verify, collect_admit
from analytics.validation import event_validate
from core.api.parsers import json_loads
from core.api.renderers import json_dumps
from core.fastpath import POST_VIEW_HEADERS, FastAnswer, FastRequest, Handover


def collect(request: FastRequest) -> FastAnswer | Handover | None:
    raw_key = request.header("HTTP_X_API_KEY")
    if not raw_key or not request.body.lstrip().startswith(b"{"):
        return None  # no key, or not one event (a batch is the view's: its cost is its items)
    try:
        data = json_loads(request.body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    identity = api_key_verify(raw=raw_key)
    if identity is None:
        return None
    event, _ = event_validate(data, client_ip=request.header("REMOTE_ADDR") or "0.0.0.0")
    if event is None:
        return None
    admission = collect_admit(identity=identity, events=[event])
    if not admission.live or not admission.allowed:
        return Handover(admission)
    return FastAnswer(202, json_dumps({"accepted": admission.stored}), POST_VIEW_HEADERS)
