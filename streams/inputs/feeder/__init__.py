"""The feeder: sources (feeds, sitemaps, URL lists) polled politely into the raw-html topic."""
