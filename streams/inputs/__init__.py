"""Pages into the pipeline: paths and JSONL (`ingest`), the feeder, backfill, and the raw archive."""
