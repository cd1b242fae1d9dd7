"""The moderation queue: flagged messages, staff review and decisions."""
