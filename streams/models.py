"""Data of the streams domain."""
