"""Stage 7: share a finished model on a model-sharing hub."""
from fabricate.hub.client import (MANUAL_HUBS, HttpHubClient, HubConfig, HubError, ManualHubAdapter,
                                  hub_client)
from fabricate.hub.package import LICENCES, ModelPackage

__all__ = ["ModelPackage", "LICENCES", "HubConfig", "HubError", "HttpHubClient", "ManualHubAdapter",
           "hub_client", "MANUAL_HUBS"]
