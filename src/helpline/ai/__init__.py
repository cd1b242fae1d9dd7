"""Language models, token counting, moderation (and later embeddings), behind small Protocols."""
