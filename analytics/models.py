"""Data of the analytics domain."""
