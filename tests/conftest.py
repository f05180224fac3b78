import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM
# calls from such a thread unless told that this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="correct horse battery")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="mallory", password="another long password")


@pytest.fixture
def signed_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, serving /broker/v1/ as `make run` does: through the lean
    door of iothub_console.wsgi (its Django views are for the test client's tests)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from pytest_django.live_server_helper import LiveServer

    class LeanDoorAndStaticFiles(StaticFilesHandler):
        def __call__(self, environ, start_response):
            from iothub_console import wsgi

            if environ.get("PATH_INFO", "").startswith(wsgi.BROKER_PREFIX):
                return wsgi.application(environ, start_response)
            return super().__call__(environ, start_response)

    addr = (
        request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    )
    server = LiveServer(addr, start=False)
    server.thread.static_handler = LeanDoorAndStaticFiles
    server.start()
    yield server
    server.stop()
