"""The Kubernetes API server: HTTP face, REST verbs, watch, store, schemas, discovery, tables, selectors,
patches, field manager, protobuf, Status errors and the garbage collector. It knows no Knative: custom
resources, admission webhooks and controllers plug into it through `Registry`, `Schemas`, `Admission`
and the store's change feed."""
