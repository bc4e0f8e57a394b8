"""URLs of the ingestion domain: its operator API under /api/ingestion/ and its compat paths."""

urlpatterns: list = []
