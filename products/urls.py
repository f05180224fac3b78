from django.urls import path

from . import link_views, views

app_name = "products"

# Singular "device/" so that a device named "add" cannot collide with devices/add/.
device = "<str:product_id>/device/<str:name>/"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("create/", views.product_create, name="product_create"),
    path("<str:product_id>/", views.product_detail, name="product_detail"),
    path("<str:product_id>/delete/", views.product_delete, name="product_delete"),
    path("<str:product_id>/forbid/", views.product_forbid, name="product_forbid"),
    path("<str:product_id>/ca.crt", views.product_ca_download, name="product_ca_download"),
    path("<str:product_id>/devices/", views.product_devices, name="product_devices"),
    path("<str:product_id>/devices/add/", views.device_add, name="device_add"),
    path("<str:product_id>/devices/enable/", views.devices_enable, name="devices_enable"),
    path(device, views.device_detail, name="device_detail"),
    path(device + "enable/", views.device_enable, name="device_enable"),
    path(device + "delete/", views.device_delete, name="device_delete"),
    path(device + "certificate/", views.device_certificate_download, name="device_certificate"),
    path(device + "private-key/", views.device_private_key_download, name="device_private_key"),
    path(device + "bundle/", views.device_bundle_download, name="device_bundle"),
    path(device + "status/", link_views.device_status, name="device_status"),
    path(device + "credentials/", link_views.device_credentials, name="device_credentials"),
    path(device + "publish/", link_views.device_publish, name="device_publish"),
]
