"""Admin pages of the webhooks domain."""
