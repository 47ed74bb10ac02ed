from django.urls import path

from studio.views import battle, compare, costs, editor, providers
from studio.views import studio as views

app_name = "studio"
urlpatterns = [
    path("", views.home, name="home"),
    path("form/model-fields/", views.model_fields, name="model_fields"),
    path("form/import/", views.settings_import, name="settings_import"),
    path("jobs/", views.job_submit, name="job_submit"),
    path("jobs/<int:pk>/", views.job_card, name="job"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("images/<int:image_pk>/midjourney/", views.midjourney_action, name="midjourney_action"),
    path("edit/", editor.editor, name="editor"),
    path("edit/<int:pk>/", editor.editor, name="editor_image"),
    path("edit/fields/", editor.editor_fields, name="editor_fields"),
    path("edit/jobs/", editor.editor_submit, name="editor_submit"),
    path("costs/", costs.costs, name="costs"),
    path("providers/", providers.providers_page, name="providers"),
    path("providers/<slug:provider_id>/check/", providers.provider_check, name="provider_check"),
    path("costs/budgets/<int:user_id>/", costs.budget_set, name="budget_set"),
    path("compare/", compare.index, name="compare"),
    path("compare/new/", compare.create, name="compare_create"),
    path("compare/sweep/", compare.sweep, name="compare_sweep"),
    path("compare/leaderboard/", compare.leaderboard_page, name="leaderboard"),
    path("compare/battle/", battle.battle, name="battle"),
    path("compare/<int:pk>/", compare.detail, name="comparison"),
    path("compare/<int:pk>/columns/<int:position>/", compare.column, name="comparison_column"),
    path("compare/<int:pk>/columns/<int:position>/image/", compare.column_image, name="comparison_image"),
    path("compare/<int:pk>/vote/", compare.vote, name="comparison_vote"),
    path("compare/<int:pk>/rerun/", compare.rerun, name="comparison_rerun"),
]
