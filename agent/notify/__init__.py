"""Notification delivery to the [[notify]] targets: config (the sections), outbox (persisted,
per target), sender (one asyncio task per target), wire (the PDUs), ratelimit, notifier (the
hub's sink that ties them together)."""
