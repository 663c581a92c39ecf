"""The HTTP gateway (`recordflow gateway`): the producer SDK's door for agency systems in any
language (docs/design.md, "Gateway"). One module per idea: `app` wires the FastAPI application,
`submissions` and `uploads` are its routes, `auth` and `credentials` who is calling, `problems`
the RFC 9457 errors, `idempotency` and `objects` what the gateway keeps in S3, `limits` sizes and
rates, `status` where a submission is, `metrics` its own Prometheus series."""
