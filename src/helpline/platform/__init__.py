"""Shared state between requests and between instances, each piece behind a small Protocol with
its in-process implementation (one instance, the embedded default) and its Redis one (several
instances; Redis Cluster too) side by side:

- ``hub``, ``redis_hub``: the generation hubs (answers' event logs, WebSocket fan-out, Stop).
- ``onetime``: single-use values with a lifetime (hand-off codes).
- ``cache``: the FAQ search cache (results, embeddings).
- ``limits``, ``throttle``: rate-limit storage and the windows counted in it.

Nothing here imports a domain package (chat, faqs, auth, ...): they import this. The contract
tests in tests/platform run every implementation against the same assertions."""
