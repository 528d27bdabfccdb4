"""The fine-tuning service a provider deploys: OpenAI's fine-tuning API, every job protected.

`create_service_app` builds the API (files, jobs, models, chat); `JobWorker` trains the queued
jobs one at a time, each in its own process; `Store` keeps the state in SQL.
"""

from secvec.service.api import create_service_app
from secvec.service.settings import ServiceSettings
from secvec.service.store import Store
from secvec.service.worker import JobWorker

__all__ = ["JobWorker", "ServiceSettings", "Store", "create_service_app"]
