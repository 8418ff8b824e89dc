"""The ingestion queue on the Documents page: each file's progress, the time left, cancel.

Drawn in a fragment that refreshes itself every second, so progress moves while the rest
of the page (and every other page, in other tabs) stays usable. The queue lives on disk
and in the server process, not in the browser: a reload or another tab shows it as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ingest.access import Uploads
from ingest.files import IngestOutcome
from ingest.queue import Job, JobState
from pages.common import guarded
from rag.safe_text import display_name

# Files listed: the first waiting or running ones (a queue may hold thousands), and the
# last finished ones, newest last.
ACTIVE_SHOWN = 20
FINISHED_SHOWN = 50


@st.fragment(run_every=1.0)
def queue_panel(
    queue: Uploads, show_outcome: Callable[[IngestOutcome], None], name: str = ""
) -> None:
    """The queue, refreshed every second; the whole page reruns when a file finishes, so
    the library below shows it. `show_outcome` draws a finished file's outcome; `name`
    tells one knowledge base's queue from another's."""
    with guarded(stop=False):
        jobs = queue.jobs()
        _active(queue, [j for j in jobs if not j.state.finished], jobs)
        _finished(queue, [j for j in jobs if j.state.finished], show_outcome, name)


def _active(queue: Uploads, active: list[Job], jobs: list[Job]) -> None:
    if not active:
        return
    eta = queue.eta(jobs)
    header, cancel_all = st.columns([4, 1], vertical_alignment="bottom")
    left = f"; about {_duration(eta.queue_s)} left" if eta.queue_s is not None else ""
    header.subheader(f"Queue ({len(active)} file{'' if len(active) == 1 else 's'}{left})")
    if cancel_all.button("Cancel all", key="cancel_all", icon="⏹️"):
        queue.cancel(None)
        st.rerun(scope="fragment")
    for job in active[:ACTIVE_SHOWN]:
        _job_row(queue, job, eta.job_s if job is active[0] else None)
    if len(active) > ACTIVE_SHOWN:
        st.caption(f"and {len(active) - ACTIVE_SHOWN:,} more waiting")


def _job_row(queue: Uploads, job: Job, job_s: float | None) -> None:
    bar, button = st.columns([5, 1], vertical_alignment="bottom")
    text = f"{display_name(job.name)}: {job.progress_text()}"
    if job.cancel_requested:
        text += " (cancelling…)"
    elif job_s is not None and job.state is JobState.RUNNING and not job.reading:
        text += f", about {_duration(job_s)} left"
    bar.progress(job.fraction, text=text)
    if button.button("Cancel", key=f"cancel-{job.id}", disabled=job.cancel_requested):
        queue.cancel(job.id)
        st.rerun(scope="fragment")


def _finished(queue: Uploads, finished: list[Job], show_outcome, name: str) -> None:
    # Remembered per queue: the first look at another knowledge base's queue is no news.
    seen = st.session_state.setdefault(f"finished_seen-{name}", None)
    newest = finished[0].id if finished else 0
    st.session_state[f"finished_seen-{name}"] = newest
    if seen is not None and newest != seen:
        st.rerun(scope="app")  # a file finished: the library table must show it
    if not finished:
        return
    shown = list(reversed(finished[:FINISHED_SHOWN]))
    with st.expander(f"Finished ({len(finished)})", expanded=True):
        for job in shown:
            if job.outcome is not None:
                show_outcome(job.outcome)
            else:
                st.info(f"{display_name(job.name)}: {job.state.value}", icon="⏹️")
        if st.button("Clear this list", key="clear_finished"):
            queue.clear_finished()
            st.rerun(scope="fragment")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
