"""Stage 7: share a finished model on a model-sharing hub."""
from fabricate.hub.adapters import ADAPTERS, GenericAdapter, SketchfabAdapter, ThingiverseAdapter, hub_adapter
from fabricate.hub.client import MANUAL_HUBS, HubConfig, ManualHubAdapter, hub_overview, is_configured
from fabricate.hub.package import LICENCE_NAMES, LICENCES, ModelPackage
from fabricate.hub.profiles import PROFILES, profile_of
from fabricate.hub.queue import ShareQueue, ShareStatus, resume, share
from fabricate.hub.transport import HubAnswerUnreadable, HubError, HubRefused, ShareFailed

__all__ = ["ModelPackage", "LICENCES", "LICENCE_NAMES", "HubConfig", "HubError", "HubRefused", "HubAnswerUnreadable",
           "ShareFailed", "ManualHubAdapter", "MANUAL_HUBS", "ADAPTERS", "PROFILES", "profile_of", "GenericAdapter",
           "ThingiverseAdapter", "SketchfabAdapter", "hub_adapter", "hub_overview", "is_configured", "ShareQueue",
           "ShareStatus", "share", "resume"]
