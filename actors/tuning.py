"""Process-level settings the actors rely on for throughput (measured in docs/architecture.md).

``RAY_SYSTEM_CONFIG``: Ray passes a call's arguments inline (in the gRPC request) only up to
``max_direct_call_object_size`` (100 KiB by default) and puts bigger ones in the shared object
store. A 1,000-event batch is ~140 KB as Arrow IPC, so every API -> EventLog call went through the
object store: ~1.5 us per event in the raylet plus a put and a fetch on either side. Ray reads the
setting when a process starts: ``ray.init`` passes it (``_system_config``) to a local cluster it
starts; a cluster joined with ``--address`` keeps its own (start its nodes with
``RAY_max_direct_call_object_size=1048576`` in their environment).

``quiet_gc``: a shard allocates a tuple per event, so CPython's default young-generation threshold
(700 allocations) ran a collection every few hundred events, each walking what the previous ones
left; a long-lived actor gains nothing from that.
"""
from __future__ import annotations

import gc

INLINE_ARGS_BYTES = 1 << 20
RAY_SYSTEM_CONFIG = {"max_direct_call_object_size": INLINE_ARGS_BYTES}  # ray.init(_system_config=...)
GC_THRESHOLDS = (50_000, 20, 20)


def quiet_gc() -> None:
    """Move what exists now out of the collector's way and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
