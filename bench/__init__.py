"""bench: filled by its own issue (see ARCHITECTURE.md)."""
