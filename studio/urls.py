from django.urls import path

from studio.views import battle, compare, costs, editor, job_cards, providers
from studio.views import studio as views

app_name = "studio"
urlpatterns = [
    path("", views.home, name="home"),
    path("form/model-fields/", views.model_fields, name="model_fields"),
    path("form/import/", views.settings_import, name="settings_import"),
    path("jobs/", views.job_submit, name="job_submit"),
    path("jobs/updates/", job_cards.job_updates, name="job_updates"),
    path("jobs/older/", job_cards.jobs_older, name="jobs_older"),
    path("jobs/<int:pk>/", views.job_card, name="job"),
    path("jobs/<int:pk>/preview/", views.job_preview, name="job_preview"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("images/<int:image_pk>/midjourney/", views.midjourney_action, name="midjourney_action"),
    path("images/<int:image_pk>/favourite/", job_cards.image_favourite, name="image_favourite"),
    path("images/<int:image_pk>/quick/", job_cards.image_quick_action, name="image_quick_action"),
    path("prompts/", views.prompt_history, name="prompt_history"),
    path("edit/", editor.editor, name="editor"),
    path("edit/<int:pk>/", editor.editor, name="editor_image"),
    path("edit/fields/", editor.editor_fields, name="editor_fields"),
    path("edit/jobs/", editor.editor_submit, name="editor_submit"),
    path("costs/", costs.costs, name="costs"),
    path("costs/export.csv", costs.costs_csv, name="costs_csv"),
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
