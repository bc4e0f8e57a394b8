"""``collection_input_at_once`` (the fast path's check) accepts nothing the serializer refuses
and gives what the serializer's ``validated_data`` holds; the usual requests pass it."""

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from webhooks.api.serializers import CollectionInputSerializer, collection_input_at_once
from webhooks.netguard import CallbackRefusedError

pytestmark = pytest.mark.django_db

HOSTS = (
    "callback.example",
    "callback.example.",
    "CALLBACK.example",
    "93.184.216.34",
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "10.1.2.3",
    "169.254.169.254",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[2606:4700::1111]",
    "localhost",
    "localhost.",
    "unknown.test",
    "exa mple.com",
    "",
)
PORTS = ("", ":8080", ":0", ":65535", ":65536", ":x")
SCHEMES = ("http://", "https://", "ftp://", "HTTP://", "javascript:", "//", "")
PATHS = ("", "/", "/hook", "/h?x=1", "/h#f", "/\x00", "/\ud800", "/é", "/" + "a" * 2050)
SPACES = ("", " ", "\t", "\n")

urls = st.one_of(
    st.builds(
        lambda lead, scheme, host, port, path, trail: f"{lead}{scheme}{host}{port}{path}{trail}",
        st.sampled_from(SPACES),
        st.sampled_from(SCHEMES),
        st.sampled_from(HOSTS),
        st.sampled_from(PORTS),
        st.sampled_from(PATHS),
        st.sampled_from(SPACES),
    ),
    st.text(max_size=40),
    st.none(),
    st.integers(),
    st.booleans(),
    st.lists(st.just("https://callback.example/hook"), max_size=2),
)
names = st.sampled_from(("gas", "internet", "water", "", "GAS", " gas"))
providers = st.one_of(
    names,
    st.lists(names, max_size=4),
    st.lists(st.one_of(names, st.integers(), st.none()), max_size=3),
    st.none(),
    st.integers(),
    st.dictionaries(names, names, max_size=1),
)
bodies = st.one_of(
    st.fixed_dictionaries({"provider": providers, "callbackUrl": urls}),
    st.fixed_dictionaries(
        {"provider": providers, "callbackUrl": urls},
        optional={"extra": st.integers(), "provider ": names},
    ),
    st.dictionaries(st.sampled_from(("provider", "callbackUrl", "x")), urls, max_size=3),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=5),
    st.none(),
)


def _at_once(data: Any) -> tuple[list[str], str] | str | None:
    """The check's answer, or "refused" when it raised the guard's refusal."""
    try:
        return collection_input_at_once(data)
    except CallbackRefusedError:
        return "refused"


def _serializer_says(data: Any) -> tuple[list[str], str] | None:
    serializer = CollectionInputSerializer(data=data)
    if not serializer.is_valid():
        return None
    return serializer.validated_data["provider"], serializer.validated_data["callbackUrl"]


@pytest.mark.parametrize("allow_private", [True, False])
@hypothesis_settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=bodies)
def test_accepts_only_what_the_serializer_accepts_and_gives_the_same(settings, allow_private, data):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = allow_private

    fast = _at_once(data)

    if fast == "refused":
        assert _serializer_says(data) is None
    elif fast is not None:
        assert _serializer_says(data) == fast


@pytest.mark.parametrize("allow_private", [True, False])
def test_every_url_spelling_agrees_with_the_serializer(settings, allow_private):
    """Every combination of the spellings above, exhaustively (hypothesis would meet the rare
    ones, a NUL in a valid URL say, too seldom): accepted at once only if the serializer
    accepts it, as it is."""
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = allow_private
    accepted = refused = 0
    for scheme, host, port, path in itertools.product(SCHEMES, HOSTS, PORTS, PATHS):
        for lead, trail in (("", ""), (" ", ""), ("", "\n"), ("\t", " ")):
            data = {"provider": "gas", "callbackUrl": f"{lead}{scheme}{host}{port}{path}{trail}"}

            fast = _at_once(data)

            if fast == "refused":
                refused += 1
                assert _serializer_says(data) is None, data
            elif fast is not None:
                accepted += 1
                assert _serializer_says(data) == fast, data
    assert accepted == (792 if allow_private else 360)
    assert refused == (648 if allow_private else 1_080)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"provider": ["gas", "internet"], "callbackUrl": "https://callback.example/hook"},
            (["gas", "internet"], "https://callback.example/hook"),
        ),
        (
            {"provider": "gas", "callbackUrl": "http://93.184.216.34:8080/h?x=1"},
            (["gas"], "http://93.184.216.34:8080/h?x=1"),
        ),
        (
            {
                "provider": ["internet", "gas", "internet"],
                "callbackUrl": "https://callback.example",
            },
            (["internet", "gas"], "https://callback.example"),
        ),
    ],
)
def test_the_usual_requests_are_accepted_at_once(settings, data, expected):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = False

    assert collection_input_at_once(data) == expected
    assert _serializer_says(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        # The serializer accepts these (stripping the URL, or a private address allowed), but
        # not in the way the check knows: it leaves them to the serializer.
        {"provider": "gas", "callbackUrl": " https://callback.example/hook"},
        {"provider": "gas", "callbackUrl": "https://callback.example/hook\n"},
    ],
)
def test_what_the_serializer_would_change_is_left_to_it(data):
    assert collection_input_at_once(data) is None
    assert _serializer_says(data) == (["gas"], "https://callback.example/hook")


@pytest.mark.parametrize(
    "data",
    [
        {"provider": "water", "callbackUrl": "https://callback.example/hook"},
        {"provider": [], "callbackUrl": "https://callback.example/hook"},
        {"provider": "gas", "callbackUrl": "https://10.1.2.3/hook"},
        {"provider": "gas", "callbackUrl": "http://127.1/hook"},
        {"provider": "gas", "callbackUrl": "https://unknown.test/hook"},
        {"provider": "gas", "callbackUrl": "ftp://callback.example/hook"},
        {"provider": "gas", "callbackUrl": "https://callback.example/" + "a" * 2048},
        {"provider": "gas", "callbackUrl": "https://callback.example/hook", "extra": 1},
        {"provider": "gas"},
    ],
)
def test_refused_by_both(settings, data):
    settings.WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = False

    assert _at_once(data) in (None, "refused")
    assert _serializer_says(data) is None
