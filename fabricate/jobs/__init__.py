"""The job runner: persistent jobs, a bounded worker pool, progress for the web page."""
from fabricate.jobs.runner import JobRunner, overall_progress, run_job
from fabricate.jobs.store import RESULT_FILES, Job, JobStore, JobStoreBase, default_data_dir, open_job_store

__all__ = ["Job", "JobStore", "JobStoreBase", "open_job_store", "JobRunner", "run_job", "overall_progress",
           "default_data_dir", "RESULT_FILES"]
