"""Admin pages of the analytics domain."""
