from django.urls import path

from . import views

app_name = "broker"

urlpatterns = [
    path("authenticate", views.authenticate, name="authenticate"),
    path("authorize", views.authorize, name="authorize"),
    path("events", views.events, name="events"),
    path("commands", views.commands, name="commands"),
]
