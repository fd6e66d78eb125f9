"""Which latencies a histogram bucket counts alone: where an exemplar in it must fall."""

from flaskobs.metrics import REQUEST_BUCKETS


def bucket_interval(le: str) -> tuple[float, float]:
    """(the bound below it, its own bound] of the app's latency bucket `le`."""
    upper = float(le)
    return max((b for b in REQUEST_BUCKETS if b < upper), default=0.0), upper
