"""Our app for uWSGI (the seeds' alternative server): `uwsgi --module uwsgi_app`."""

from demo import create_app

application = create_app()
