"""Knative Serving's controllers: the loop that follows the store's change feed, one reconciler per kind, and
what installing Knative and Kourier creates."""
