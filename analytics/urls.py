"""URLs of the analytics domain: its operator API under /api/analytics/ and its compat paths."""

urlpatterns: list = []
