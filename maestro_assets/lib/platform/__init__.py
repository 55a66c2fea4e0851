"""The platform itself: backups of its databases, restores, and retention of old data."""
