"""Admin pages of the ingestion domain."""
