"""The archival domain: the rules every door shares (metadata, retention, reference codes, the
DA/T 70 check, formats, signatures, packages, reason codes), with no Kafka, S3, HTTP or faust
(docs/design.md, "Layers")."""
