"""newsstream: raw HTML -> cleaned text -> actors -> deduplicated stories, into ClickHouse."""

__version__ = "0.1.0"
