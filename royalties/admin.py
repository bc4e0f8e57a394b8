"""Admin pages of the royalties domain."""
