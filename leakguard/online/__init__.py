"""The online path behind :mod:`leakguard.middleware` and :mod:`leakguard.proxy`.

Parts: :mod:`.framing` (SSE and NDJSON decoders), :mod:`.shapes` (API payload shapes: where the
model's text is in a JSON body or event), :mod:`.streaming` (the bounded hold-back that releases
only text a later chunk cannot change), :mod:`.scan_threads` (scans off the event loop),
:mod:`.metrics` (Prometheus counters), :mod:`.upstream_http` (the proxy's HTTP transport).
"""
