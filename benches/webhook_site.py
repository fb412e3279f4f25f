"""What benches/webhooks_bench.py serves with gunicorn: the project's WSGI application plus one
URL, /bench/floor/, a bare Django view that only answers 200. Same server, workers, middleware
and client as the webhook view, so the difference between the two is the webhook's own work.

The bench names its broker queue (WEBHOOK_BENCH_QUEUE) so it can count what was queued and
leave nothing behind for a real worker.
"""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connector.settings")

from django.conf import settings  # noqa: E402 - the settings module is named first
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from connector.handlers import lean_application  # noqa: E402

# As connector/wsgi.py serves it: the webhook URL with its short middleware list, the rest
# (the floor's URL included) with the project's full one.
application = lean_application(get_wsgi_application())


@csrf_exempt
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


urlpatterns = [path("bench/floor/", floor), path("", include("connector.urls"))]
settings.ROOT_URLCONF = __name__

if os.environ.get("WEBHOOK_BENCH_QUEUE"):
    from connector.celery import app as celery_app

    celery_app.conf.task_default_queue = os.environ["WEBHOOK_BENCH_QUEUE"]
