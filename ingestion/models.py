"""Data of the ingestion domain."""
