"""``event_validate``'s quick path for the events almost every client sends agrees with the
full validation: it accepts nothing the full one refuses, and builds the same event."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.validation import _valid_at_once, _validate, event_validate

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CLIENT_IP = "198.51.100.7"

ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=4),
    st.sampled_from(["", " ", "\x00", "a\x00b", "x" * 255, "x" * 256]),
)
# Per field: values that pass, and values a check refuses.
VALID = {
    "event": st.sampled_from(["click", "x" * 255, "t\tab", "\\N", "ü✓ 🎵"]),
    "userId": st.sampled_from(["u1", "y" * 255, "ü✓", "line\nbreak"]),
    "device": st.sampled_from(["mobile", "desktop", "tablet", "other", None]),
    "url": st.sampled_from(["https://example.com/p", "", "https://e.com/" + "a" * 2030, None]),
    "referrer": st.sampled_from(["http://a.b/c?d=1", "", None]),
    "timestamp": st.sampled_from(
        [
            *("2024-02-20T12:34:56Z", "2024-02-20", "2024-02-20 12:34:56", "2024-02-20T12:34"),
            *("2026-12-07T11:00:00+00:00", "2024-02-20T12:34:56.5+05:00", None),
        ]
    ),
    "ipAddress": st.sampled_from(["1.2.3.4", "::1", "2001:db8::0001", "::ffff:1.2.3.4", None]),
    "metadata": st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers())),
        st.sampled_from([{"browser": "Chrome", "os": "Android"}, {"browser": 5, "os": "x" * 300}]),
    ),
}
REFUSED = {
    "event": st.sampled_from(["", "x" * 256, "a\x00b"]),
    "userId": st.sampled_from(["", "y" * 256, "a\x00"]),
    "device": st.sampled_from(["phone", "", "mobile\x00"]),
    "url": st.sampled_from(
        ["not a url", "ftp://x.y", "https://a.b/\x00", "https://e.com/" + "a" * 2040]
    ),
    "referrer": st.just("nope"),
    "timestamp": st.sampled_from(["2026-12-07T13:00:00+00:00", "yesterday", "", "2024\x00"]),
    "ipAddress": st.sampled_from(["300.1.1.1", "1.2.3.4\x00", ""]),
    "metadata": st.sampled_from([{"blob": "x" * 9000}, {"a": "\x00"}, ["a"], "s"]),
    "colour": st.just("red"),
}


@st.composite
def events(draw) -> dict:
    """A valid event, then none, one or two of its fields made invalid, absent or of any type."""
    data = {"event": draw(VALID["event"])}
    for name, values in VALID.items():
        if name != "event" and draw(st.booleans()):
            data[name] = draw(values)
    for name in draw(st.lists(st.sampled_from(sorted(REFUSED)), max_size=2, unique=True)):
        data[name] = draw(st.one_of(REFUSED[name], ANY))
        if name == "event" and draw(st.booleans()):
            del data[name]
    return data


@settings(max_examples=3000, deadline=None)
@given(st.one_of(events(), ANY))
def test_the_quick_path_agrees_with_the_full_validation(data):
    full = _validate(data, client_ip=CLIENT_IP, now=NOW) if isinstance(data, dict) else None
    quick = _valid_at_once(data, CLIENT_IP, NOW) if isinstance(data, dict) else None
    if quick is not None:
        assert full == (quick, {})
    if full is not None:
        assert event_validate(data, client_ip=CLIENT_IP, now=NOW) == full


def test_the_quick_path_takes_the_usual_events():
    usual: list[dict[str, Any]] = [
        {"event": "click", "userId": "u1", "device": "desktop"},
        {"event": "view", "url": "https://example.com/p", "metadata": {"browser": "Chrome"}},
        {"event": "buy", "timestamp": "2026-12-06T11:00:00Z", "ipAddress": "2001:db8::1"},
    ]
    assert [_valid_at_once(item, CLIENT_IP, NOW) for item in usual] == [
        _validate(item, client_ip=CLIENT_IP, now=NOW)[0] for item in usual
    ]
    assert None not in [_valid_at_once(item, CLIENT_IP, NOW) for item in usual]
