"""What runs inside each django-q2 worker process besides its tasks: the drain flag that stops it
taking jobs on Ctrl-C / SIGINT, and the recovery sweep every JOB_RECOVERY_SECONDS."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading

from django.conf import settings
from django.db import close_old_connections
from django_q.conf import Conf

log = logging.getLogger(__name__)
_draining = threading.Event()


def worker_id() -> str:
    """This worker process as recorded on the jobs it runs: "host:pid"."""
    return f"{settings.WORKER_HOST}:{os.getpid()}"


def draining() -> bool:
    """Whether this worker was told to stop: it finishes its job and takes no other."""
    return _draining.is_set()


def on_spawn(sender: str, proc_name: str, **kwargs: object) -> None:
    """django-q2's post_spawn, in each new worker process. django-q2 ignores SIGINT in workers;
    here it means "drain": `runstudio` sends it to the cluster's whole process group on Ctrl-C
    or SIGTERM, and a terminal's Ctrl-C sends it to a foreground `qcluster`'s group too.
    In sync mode (tests, Q_SYNC) django-q2 runs its worker loop in the caller's process: no-op."""
    if Conf.SYNC or multiprocessing.parent_process() is None:
        return
    signal.signal(signal.SIGINT, lambda signum, frame: _draining.set())
    threading.Thread(target=_sweep_forever, name="recovery", daemon=True).start()


def _sweep_forever() -> None:
    from studio import recovery

    while not _draining.is_set():
        try:
            recovery.sweep()
        except Exception:  # the broker or the database is away: try again next round
            log.exception("recovery sweep failed")
        finally:
            close_old_connections()
        if _draining.wait(settings.JOB_RECOVERY_SECONDS):
            return
