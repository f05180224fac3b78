from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("", views.key_list, name="key_list"),
    path("create/", views.key_create, name="key_create"),
    path("<int:pk>/enable/", views.key_enable, name="key_enable"),
    path("<int:pk>/delete/", views.key_delete, name="key_delete"),
    # Where CreateTaskFileUrl's Url points: a names file is PUT here, once.
    path("task-files/<str:name>", views.task_file_upload, name="task_file_upload"),
]
