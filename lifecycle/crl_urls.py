"""The Platform CAs' CRLs, without sign-in: /crl/root.crl and /crl/device.crl."""

from django.urls import path

from . import views

app_name = "crl"

urlpatterns = [
    path("<str:kind>.crl", views.platform_crl_file, name="platform_crl"),
]
