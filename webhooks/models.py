"""Data of the webhooks domain."""
