"""The analytics domain (see ../shared/spec/analytics.md for its contract)."""
