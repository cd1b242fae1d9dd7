"""The load, soak and fault suite (`make load`, `python -m bench.load`): N simulated users chat
through REST, SSE and WebSocket against two Helpline instances behind nginx, with faults injected
phase by phase, then every accepted message is checked in the database. See docs/capacity.md."""
