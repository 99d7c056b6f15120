"""Serving: what the pinned versions run as.

`render` turns a PinsFile (plus the image lock written by `build`) into Kubernetes
manifests, purely and deterministically. `images` (docker SDK) and `cluster`
(kubernetes client) are the adapters at the edge; they are imported only by the
commands that need them.
"""
