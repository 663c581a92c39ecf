"""The local stack: Kafka, the schema registry, S3 and Prometheus on 127.0.0.1 (stack.py runs
them; a module per server, kafka.py, registry.py, s3.py and prometheus.py, on the base in
service.py), its secure profile (secure.py), a pipeline's topics and buckets (setup.py) and worker
processes (workers.py). For development, tests, the demo and the benchmark; never imported by the
pipeline."""
