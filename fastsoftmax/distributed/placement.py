"""Which chunks share a task: co-located chunks on ``dask.distributed``.

Every task costs the distributed scheduler, the worker and the client a few
milliseconds of bookkeeping, whatever it computes. With chunks of a typical
size (100 MB, some 15 ms of kernel time on one core) a task per chunk spent
a large part of each evaluation on that: measured on 2 cores, 16 chunks on
2 single-threaded workers, one evaluation took 0.19 s against 0.12 s in
memory, and 0.15 s with the grouping below. So on a distributed cluster the chunks that one worker holds are
evaluated by as many tasks as that worker has threads (each task runs
:func:`.objective.chunk_partials` on its chunks one after the other and
returns one partial per chunk); the scheduler runs a task where its chunks
are, so no data moves. Where the chunks are is asked of the scheduler at
every evaluation (one round trip, about a millisecond), so the grouping
follows the data after a worker is lost; a chunk that no worker holds (being
recomputed) gets a task of its own.

The local schedulers (threads, processes, synchronous) have no such cost:
there every chunk is its own task. Either way every chunk's partial is
returned separately and the client adds them in chunk order, so the grouping
never changes a bit of the result.
"""

import dask.base
import numpy as np


def active_client():
    """The ``dask.distributed`` client that ``dask.compute`` would use, or None."""
    scheduler = dask.base.get_scheduler()
    client = getattr(scheduler, "__self__", None)
    return client if hasattr(client, "who_has") and hasattr(client, "nthreads") else None


class Placement:
    """Groups chunk indices into tasks, one group per worker thread holding them.

    Parameters
    ----------
    chunk_keys : list
        The Dask key of each chunk of X, in chunk order.
    persisted_X : dask.array.Array
        The persisted X whose chunks have those keys.
    threads_per_task : int
        Numba threads each task uses: a worker with ``t`` threads gets
        ``max(1, t // threads_per_task)`` tasks.
    """

    def __init__(self, chunk_keys, persisted_X, threads_per_task):
        self.chunk_keys = list(chunk_keys)
        self.persisted_X = persisted_X
        self.threads_per_task = max(1, int(threads_per_task))
        self._worker_threads = {}  # address -> threads, asked once per worker

    def batches(self):
        """Lists of chunk indices, each evaluated by one task, in chunk order.

        Returns
        -------
        list of list of int
        """
        singletons = [[i] for i in range(len(self.chunk_keys))]
        client = active_client()
        if client is None or self.persisted_X is None:
            return singletons
        from distributed import futures_of

        futures = futures_of(self.persisted_X)
        if not futures:  # persisted under another scheduler: nothing to ask
            return singletons
        holders = client.who_has(futures)
        batches, by_worker = [], {}
        for i, key in enumerate(self.chunk_keys):
            where = holders.get(key) or ()
            if where:
                by_worker.setdefault(sorted(where)[0], []).append(i)
            else:
                batches.append([i])  # lost and not yet recomputed: on its own
        unknown = [address for address in by_worker if address not in self._worker_threads]
        if unknown:
            self._worker_threads.update(client.nthreads(unknown))
        for address, indices in by_worker.items():
            n_tasks = max(1, self._worker_threads.get(address, 1) // self.threads_per_task)
            n_tasks = min(n_tasks, len(indices))
            batches.extend(part.tolist() for part in np.array_split(indices, n_tasks))
        return sorted(batches)
