"""URLs of the streams domain: its operator API under /api/streams/ and its compat paths."""

urlpatterns: list = []
