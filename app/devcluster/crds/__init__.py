"""Knative Serving's CustomResourceDefinitions: the four kinds, their printer columns and their schemas."""
