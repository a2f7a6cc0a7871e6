"""The job runner: persistent jobs, a bounded worker pool, progress for the web page."""
from fabricate.jobs.runner import JobRunner, overall_progress, run_job
from fabricate.jobs.store import RESULT_FILES, Job, JobStore, default_data_dir

__all__ = ["Job", "JobStore", "JobRunner", "run_job", "overall_progress", "default_data_dir", "RESULT_FILES"]
