from django.urls import path

from . import views

app_name = "batches"

urlpatterns = [
    path("products/<str:product_id>/batches/", views.batch_list, name="batch_list"),
    path("products/<str:product_id>/batches/add/", views.batch_create, name="batch_create"),
    path("batches/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/progress/", views.batch_progress, name="batch_progress"),
    path("batches/<int:pk>/resume/", views.batch_resume, name="batch_resume"),
    path("batches/<int:pk>/results.zip", views.batch_results, name="batch_results"),
]
