"""Admin pages of the streams domain."""
