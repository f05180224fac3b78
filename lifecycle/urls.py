from django.urls import path

from . import views

app_name = "lifecycle"

device = "products/<str:product_id>/device/<str:name>/"

urlpatterns = [
    path(device + "revoke/", views.device_revoke, name="device_revoke"),
    path(device + "renew/", views.device_renew, name="device_renew"),
    path("products/<str:product_id>/crl/", views.product_crl_download, name="product_crl"),
    path(
        "products/<str:product_id>/renew-expiring/", views.product_renewal_batch, name="product_renewal_batch"
    ),
    path("products/<str:product_id>/second-ca/", views.product_second_ca, name="product_second_ca"),
    path(
        "products/<str:product_id>/second-ca/promote/",
        views.product_second_ca_promote,
        name="product_second_ca_promote",
    ),
    path(
        "products/<str:product_id>/second-ca/remove/",
        views.product_second_ca_remove,
        name="product_second_ca_remove",
    ),
    path("certificates/<int:pk>/crl/upload/", views.ca_crl_upload, name="ca_crl_upload"),
    path("certificates/<int:pk>/crl/", views.ca_crl_download, name="ca_crl_download"),
]
