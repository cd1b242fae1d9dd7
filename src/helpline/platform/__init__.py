"""Shared state between requests and between instances, each piece behind a small Protocol with
its in-process implementation (one instance, the embedded default) and its Redis one (several
instances; Redis Cluster too) side by side:

- ``hub``, ``redis_hub``: the generation hubs (answers' event logs, WebSocket fan-out, Stop): ``Hub``.
- ``onetime``: single-use values with a lifetime (hand-off codes): ``OneTimeStore``.
- ``cache``: the FAQ search cache (results, embeddings): ``FAQCache``.
- ``limits``: the request windows (``WindowStore``: one Redis round trip per check) and the
  ``limits`` library's storage; ``throttle``: the auth throttles counted in that storage.
- ``sockets``: chat WebSockets waiting to authenticate (in-process only, per instance).

Nothing here imports a domain package (chat, faqs, auth, ...): they import this. The contract
tests in tests/platform run every implementation against the same assertions."""
