"""The generation hub shared by several app instances through Redis.

It implements ``platform.hub.Hub`` as the in-process ``GenerationHub`` does, and keeps what runs
here in one. Its parts, one module each: ``writer`` (the batch writer and the heartbeat),
``reader`` (other instances' answers, from their streams), ``pubsub`` (the subscriber),
``remote`` (the directory of other instances' answers; stop and disconnect signals), put
together in ``hub``.

- The instance generating an answer keeps its log in memory, as the in-process hub does: its own
  followers (the request that started it) and its own listeners (the user's WebSockets on this
  instance) are served without Redis. Redis only carries the events to the other instances.
- Each answer's events also go to a Redis Stream ``{prefix}:gen:{<message_id>}`` (fields
  seq/kind/data/final/attempt; MAXLEN ~ ``stream_maxlen``), with a small hash
  ``{prefix}:gen:{<message_id>}:meta`` holding user_id, conversation_id and attempt (same hash
  tag, so one cluster slot). Both carry a safety TTL while the answer runs, refreshed on each
  write, and expire ``keep_finished_seconds`` after the final event. ``attempt`` (random, per
  open()) keeps a retry of the same message apart from late writes of the attempt before it.
- Another instance's ``get(message_id)`` returns a ``RemoteGeneration`` whose ``follow()`` reads
  that stream (XREAD BLOCK, ``block_ms`` at a time) until the final event, and ends when the key
  vanishes. ``get()`` is synchronous, so it answers from a directory of running answers that
  every instance keeps from announcements on ``{prefix}:generations``; ``lookup()`` also asks
  Redis, for answers announced before this instance was listening.
- Each event is also PUBLISHed to ``{prefix}:user:<user_id>``. One pub/sub connection per process
  subscribes to the channels of the users that have listeners here and dispatches to their
  queues; messages this instance published itself are skipped (its listeners already have them).
- Stopping an answer (the user's Stop button) may reach any instance: ``stop()`` on an instance
  that does not generate it PUBLISHes ``{"t": "stop", ...}`` on ``{prefix}:generations``, which
  every instance listens to; the one generating that attempt stops it, and its final event
  reaches the followers as usual.
- ``disconnect()`` (a logout, a password change, a suspension) PUBLISHes
  ``{"t": "disconnect", ...}`` on the user's channel: every instance with a socket of that user
  is subscribed to it and shuts the sockets it names.
- Each instance keeps a heartbeat key ``{prefix}:instance:<origin>`` (refreshed every third of
  ``alive_ttl_seconds``, deleted on a clean stop), and the meta hash of its answers names it. A
  follower on another instance that hears nothing for ``block_ms`` looks: an answer whose instance
  is gone (killed, crashed) is marked ``orphaned`` and its followers end, so that the answer is
  settled (marked abandoned, retryable) within seconds rather than when its keys expire.
- Writes go through one background writer that pipelines whatever has queued up, so publishing
  never waits for Redis and never fails: with Redis slow or down, events are dropped for the
  other instances (logged), and the answer is still generated, served locally and stored.

On Redis Cluster: the keys of one answer share a hash tag; PUBLISH/SUBSCRIBE use classic pub/sub
(broadcast to every node) through a plain connection to the node in the URL, since cluster
pipelines refuse PUBLISH.
"""

from helpline.platform.redis_hub.hub import RedisGenerationHub, SharedGeneration
from helpline.platform.redis_hub.reader import RemoteGeneration

__all__ = ["RedisGenerationHub", "RemoteGeneration", "SharedGeneration"]
