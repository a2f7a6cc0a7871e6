"""Stage 7: share a finished model on a model-sharing hub."""
from fabricate.hub.adapters import ADAPTERS, SketchfabAdapter, ThingiverseAdapter, hub_adapter
from fabricate.hub.client import (MANUAL_HUBS, HttpHubClient, HubConfig, HubError, ManualHubAdapter,
                                  hub_client)
from fabricate.hub.package import LICENCES, ModelPackage
from fabricate.hub.profiles import PROFILES
from fabricate.hub.queue import ShareQueue, ShareStatus, resume, share

__all__ = ["ModelPackage", "LICENCES", "HubConfig", "HubError", "HttpHubClient", "ManualHubAdapter",
           "hub_client", "MANUAL_HUBS", "ADAPTERS", "PROFILES", "ThingiverseAdapter", "SketchfabAdapter",
           "hub_adapter", "ShareQueue", "ShareStatus", "share", "resume"]
