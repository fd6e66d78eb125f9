"""Flask's signed-cookie sessions, Secure whenever the client reached us over HTTPS, and free
for requests that carry no session cookie (most API calls): Flask builds a signing serializer
on every request otherwise."""

from flask import has_request_context, request
from flask.sessions import SecureCookieSessionInterface


class FastSecureSessions(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app):
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

    def save_session(self, app, session, response):
        if not session and not session.modified and not session.accessed:
            return  # nothing to write: skip computing the cookie's attributes on every request
        super().save_session(app, session, response)
