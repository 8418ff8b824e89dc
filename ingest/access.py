"""The ingestion queue and the page viewer as one person may use them.

Like rag.access.Workspace for searching and answering: every call checks the person's role
in the knowledge base first, and what changes the knowledge base is written to its audit
log. Queuing a file also checks the storage left to the knowledge base's owner.
"""

from __future__ import annotations

from pathlib import Path

from ingest.queue import IngestQueue
from ingest.queue.jobs import Job, QueueEta
from ingest.viewer import PageViewer
from ingest.viewer.views import DEFAULT_ZOOM, PageView, TextView
from rag.access import Action, Workspace
from rag.documents import Chunk


class Uploads:
    """A knowledge base's ingestion queue for one person: editors add and cancel files."""

    def __init__(self, workspace: Workspace, queue: IngestQueue) -> None:
        self._workspace, self._queue = workspace, queue

    def add(self, name: str, data: bytes, password: str | None = None) -> int:
        """Queue one file (see IngestQueue.add), recorded as added or, when a document of
        that name is there, replaced; StorageLimitError past the owner's storage."""
        workspace = self._workspace
        workspace.require(Action.ADD)
        workspace.gate.check_storage(workspace.kb, len(data))
        replaced = any(d.name == name for d in workspace.documents())
        job_id = self._queue.add(name, data, password)
        workspace.record_change("replace" if replaced else "add", name)
        return job_id

    def cancel(self, job_id: int | None = None) -> int:
        """Cancel one job, or all unfinished ones (None)."""
        self._workspace.require(Action.CANCEL)
        cancelled = self._queue.cancel(job_id)
        if cancelled:
            what = "every unfinished upload" if job_id is None else f"upload {job_id}"
            self._workspace.record_change("cancel", what)
        return cancelled

    def jobs(self) -> list[Job]:
        """The jobs, as IngestQueue.jobs lists them."""
        self._workspace.require(Action.ADD)
        return self._queue.jobs()

    def status(self, job_id: int) -> dict | None:
        """One job's state, progress and outcome as JSON (for the HTTP service); None if
        there is no such job."""
        self._workspace.require(Action.ADD)
        job = self._queue.job(job_id)
        if job is None:
            return None
        outcome = job.outcome
        return {
            "id": job.id,
            "name": job.name,
            "state": job.state.value,
            "progress": job.progress_text(),
            "fraction": round(job.fraction, 3),
            "outcome": None if outcome is None else outcome.as_dict(),
        }

    def eta(self, jobs: list[Job]) -> QueueEta:
        """The time left for the running job and for the whole queue."""
        return self._queue.eta(jobs)

    def clear_finished(self) -> None:
        """Forget the finished jobs (their documents stay)."""
        self._workspace.require(Action.ADD)
        self._queue.clear_finished()


class Viewer:
    """A knowledge base's page viewer for one person: readers see passages and pages, and
    download the original files."""

    def __init__(self, workspace: Workspace, viewer: PageViewer) -> None:
        self._workspace, self._viewer = workspace, viewer

    def chunk(self, chunk_id: str) -> Chunk:
        """A stored chunk of a visible document (see PageViewer.chunk)."""
        self._workspace.require(Action.READ)
        return self._viewer.chunk(chunk_id)

    def page_count(self, doc_id: str) -> int:
        """How many pages the document has."""
        self._workspace.require(Action.READ)
        return self._viewer.page_count(doc_id)

    def can_render(self, doc_id: str) -> bool:
        """True for a visible PDF whose original file is still kept."""
        self._workspace.require(Action.READ)
        return self._viewer.can_render(doc_id)

    def page(
        self, doc_id: str, page: int, chunk: Chunk | None = None, zoom: float = DEFAULT_ZOOM
    ) -> PageView:
        """A PDF page drawn, with `chunk`'s passage boxed (see PageViewer.page)."""
        self._workspace.require(Action.READ)
        return self._viewer.page(doc_id, page, chunk, zoom)

    def passage(self, chunk: Chunk) -> TextView:
        """The chunk's passage in the text of its unit."""
        self._workspace.require(Action.READ)
        return self._viewer.passage(chunk)

    def original(self, doc_id: str) -> Path | None:
        """The original file as uploaded, or None when it is no longer kept."""
        self._workspace.require(Action.DOWNLOAD)
        return self._viewer.original(doc_id)
