"""The e2e tests' Elasticsearch URLs: a query string with spaces, quotes and parentheses is
encoded (issue 12, defect 2: curl 8 in the Elasticsearch image refused the unencoded URL)."""

from urllib.parse import parse_qs, urlsplit

from support.elastic import es_url


def test_query_parameters_are_encoded_and_round_trip():
    ids = ["e2e-a", "e2e-b:1"]
    url = es_url("/logs-flask-*/_search", size=10000, q="request_id:(" + " OR ".join(f'"{i}"' for i in ids) + ")")
    assert " " not in url and '"' not in url
    parts = urlsplit(url)
    assert parts.path == "/logs-flask-*/_search"
    assert parse_qs(parts.query) == {"size": ["10000"], "q": ['request_id:("e2e-a" OR "e2e-b:1")']}


def test_no_parameters_no_question_mark():
    assert es_url("/logs-flask-default/_refresh") == "http://127.0.0.1:9200/logs-flask-default/_refresh"
