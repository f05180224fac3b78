from django.urls import path

from . import health_views

app_name = "health"

urlpatterns = [
    path("", health_views.certificate_health, name="certificate_health"),
]
