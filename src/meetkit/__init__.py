"""meetkit: a self-hosted Meetings API compatible with the Vonage Meetings API v1."""

__version__ = "0.1.0"
