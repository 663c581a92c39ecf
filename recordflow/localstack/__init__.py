"""The local stack: Kafka, the schema registry, S3 and Prometheus on 127.0.0.1 (stack.py), its
secure profile (secure.py), a pipeline's topics and buckets (setup.py) and worker processes
(workers.py). For development, tests, the demo and the benchmark; never imported by the pipeline."""
