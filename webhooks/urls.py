"""URLs of the webhooks domain: its operator API under /api/webhooks/ and its compat paths."""

urlpatterns: list = []
