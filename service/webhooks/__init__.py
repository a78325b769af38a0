"""Webhooks: the ledger's facts posted to integrations' URLs, signed, in order, at least once.

- `kinds.py`: what a webhook may ask for, and the audit actions behind each kind;
- `tables.py`: the registry, the delivery log and the leader's row; `registry.py`: managing webhooks;
- `outbox.py`: a webhook's messages, read from the read model's audit entries and status changes;
- `signing.py`: Standard Webhooks headers; `safety.py`: which URLs and addresses may be called;
- `sender.py`: one attempt over HTTP; `backoff.py`: when to try again;
- `attempts.py`: an attempt recorded, fenced; `worker.py`: one webhook's deliveries;
- `dispatcher.py`: one leader among all processes, with takeover; `process.py`: `measure-ledger deliver`.

Receivers' documentation: docs/webhooks.md.
"""
