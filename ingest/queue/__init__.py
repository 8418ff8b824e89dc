"""The ingestion queue: files waiting, being read and embedded, and done, kept on disk.

`JobStore` keeps the jobs of one collection (a SQLite file and a folder of waiting files
in the data folder); `QueueWorker` ingests them one after another in a background thread
of the process that holds the data folder. See the README, "The ingestion queue".
"""

from ingest.queue.jobs import Job, JobState, QueueEta, queue_eta
from ingest.queue.service import IngestQueue
from ingest.queue.store import JobStore
from ingest.queue.worker import QueueWorker

__all__ = ["IngestQueue", "Job", "JobState", "JobStore", "QueueEta", "QueueWorker", "queue_eta"]
