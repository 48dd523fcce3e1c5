"""Handler tasks the sandbox's servers start, kept so that ``stop()`` can end them.

Closing a listener leaves its open connections running (a keep-alive client, an endless
stream, a slow route); ``HandlerTasks.cancel_all()`` ends them so that no task is left pending
when the sandbox's loop closes. Servers pass ``HandlerTasks.callback(handler)`` to asyncio
instead of the coroutine handler itself: asyncio's wrapper for coroutine handlers calls
``task.exception()`` on a task cancelled before it started and logs a spurious error
(Python 3.11).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class HandlerTasks:
    """The running handler tasks of one server."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``coroutine`` as a task of this group (on the running loop)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def callback(self, handler: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., None]:
        """A plain callback that runs ``handler(*args)`` as a task of this group."""

        def run(*args: Any) -> None:
            self.start(handler(*args))

        return run

    async def cancel_all(self) -> None:
        """Cancel every running task and wait until each has ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
