"""What the first requests of a web process would otherwise pay for, done when it loads.

Django loads the URLconf (and the views, serializers and schema it imports) at the first
request a process serves, and compiles some regular expressions at their first use. With 32
request threads per process (decision 0001), the first burst of requests paid for them all at
once, and each thread compiled Django's URL validator's expression for itself (a lazy object
has no lock): a fresh process took about twice the CPU of a warm one for its first thousand
webhook submits. ``config.wsgi`` calls ``process_warm`` before the server takes requests;
it then freezes what is loaded, out of the cyclic garbage collector's full collections.
"""

import gc

from django.core.validators import URLValidator
from django.urls import get_resolver


def process_warm() -> None:
    """Load and index the URLconf; compile the URL validator's expression (analytics' event
    URLs and webhooks' callback URLs are checked with it)."""
    get_resolver().reverse_dict  # noqa: B018  (read for its effect)
    URLValidator()("https://example.com/")  # its first use compiles the expression
    # What is loaded by now lives as long as the process: moved out of the collector's reach,
    # so that a full collection no longer walks it (about 115,000 objects; a full collection
    # of them took 56-69 ms on a busy machine, a pause of every request thread of the process).
    gc.collect()
    gc.freeze()
