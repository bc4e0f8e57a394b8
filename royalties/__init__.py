"""The royalties domain (see ../shared/spec/royalties.md for its contract)."""
