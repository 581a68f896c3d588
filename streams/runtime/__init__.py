"""Running the pipeline: the worker process, the local broker, Kafka clients, the worker's web API."""
