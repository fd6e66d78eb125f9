"""Elasticsearch from the tests' side: the URL of a query, built the way curl in the Elastic
images accepts it (curl 8 refuses spaces in a URL: exit 3, nothing printed)."""

from urllib.parse import urlencode


def es_url(path: str, **params) -> str:
    """http://127.0.0.1:9200<path>?<params>, each parameter percent-encoded."""
    query = urlencode(params)
    return f"http://127.0.0.1:9200{path}" + (f"?{query}" if query else "")
