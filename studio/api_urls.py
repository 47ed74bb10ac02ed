from django.urls import path

from studio import api

app_name = "api"
urlpatterns = [
    path("models", api.models, name="models"),
    path("jobs", api.job_create, name="jobs"),
    path("jobs/<int:pk>", api.job_detail, name="job"),
    path("jobs/<int:pk>/retry", api.job_retry, name="job_retry"),
    path("images", api.images, name="images"),
    path("saved-searches", api.saved_search_list, name="saved_searches"),
    path("settings/import", api.settings_import, name="settings_import"),
]
