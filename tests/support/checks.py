"""Assertions shared by tests that talk to the app."""


def assert_json_error(response, status: int) -> dict:
    """Every error is JSON with error, status and request_id (Flask test or requests response)."""
    code = getattr(response, "status_code", None)
    text = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    assert code == status, text
    mimetype = getattr(response, "mimetype", None) or response.headers.get("Content-Type", "").split(";")[0]
    assert mimetype == "application/json", mimetype
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body
