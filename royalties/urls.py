"""URLs of the royalties domain: its operator API under /api/royalties/ and its compat paths."""

urlpatterns: list = []
