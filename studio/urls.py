from django.urls import path

from studio import editor, views

app_name = "studio"
urlpatterns = [
    path("", views.home, name="home"),
    path("form/model-fields/", views.model_fields, name="model_fields"),
    path("form/import/", views.settings_import, name="settings_import"),
    path("jobs/", views.job_submit, name="job_submit"),
    path("jobs/<int:pk>/", views.job_card, name="job"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("edit/", editor.editor, name="editor"),
    path("edit/<int:pk>/", editor.editor, name="editor_image"),
    path("edit/fields/", editor.editor_fields, name="editor_fields"),
    path("edit/jobs/", editor.editor_submit, name="editor_submit"),
]
