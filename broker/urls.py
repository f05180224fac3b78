from django.urls import path

from . import endpoints, views

app_name = "broker"

urlpatterns = [path(name, views.view_of(name), name=name) for name in endpoints.ENDPOINTS]
