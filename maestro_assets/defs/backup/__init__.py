"""The backup domain: backups of the platform databases, the weekly restore drill, retention of old data."""
