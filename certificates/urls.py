from django.urls import path

from . import views

app_name = "certificates"

urlpatterns = [
    path("", views.ca_list, name="ca_list"),
    path("add/", views.ca_add, name="ca_add"),
    path("authentication-code/regenerate/", views.code_regenerate, name="code_regenerate"),
    path("<int:pk>/", views.ca_detail, name="ca_detail"),
    path("<int:pk>/download/", views.ca_download, name="ca_download"),
    path("<int:pk>/update/", views.ca_update, name="ca_update"),
    path("<int:pk>/delete/", views.ca_delete, name="ca_delete"),
]
