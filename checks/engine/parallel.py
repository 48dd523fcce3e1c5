"""One function over many items at once, for checks that wait on the network.

A check that asks several servers, hosts or URLs would otherwise wait for each in turn (four
slow answers cost four timeouts); here the waits overlap. Threads, not asyncio: the network
layer is synchronous (dnspython, httpx's sync transport, ``ssl`` sockets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 16


def parallel_map(
    function: Callable[[T], R], items: Iterable[T], *, max_workers: int = MAX_WORKERS, name: str = "lr"
) -> list[R]:
    """``[function(item) for item in items]``, the calls running at the same time on up to
    ``max_workers`` threads named ``name-N``; results in the items' order. One item (or none)
    runs on the calling thread. An exception from ``function`` is raised here."""
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(function, items))
