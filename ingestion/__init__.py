"""The ingestion domain (see ../shared/spec/ingestion.md for its contract)."""
