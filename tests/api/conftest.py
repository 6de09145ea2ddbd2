"""The API tier: the REST contract, auth, webhooks and lifecycle, against real `meetkit serve`
processes on both databases."""
