"""Data of the royalties domain."""
