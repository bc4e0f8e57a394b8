"""The streams domain (see ../shared/spec/streams.md for its contract)."""
