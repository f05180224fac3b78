"""The broker's routes alone, at the path the console serves them on (see iothub_console/wsgi.py)."""

from django.urls import include, path

urlpatterns = [path("broker/v1/", include("broker.urls"))]
