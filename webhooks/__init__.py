"""The webhooks domain (see ../shared/spec/webhooks.md for its contract)."""
