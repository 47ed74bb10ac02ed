"""Compare pages: fan a prompt out to models or sweep a setting, watch columns fill, vote, rank."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from studio import catalog, comparisons, params
from studio.forms import ComparisonForm, SweepForm, queue
from studio.jobs import JobRefused, images_by_index
from studio.models import Comparison, Job, Vote

INDEX = "studio/compare.html"
DETAIL = "studio/comparison.html"


def _index_context(compare_form=None, sweep_form=None, **extra):
    recent = Comparison.objects.select_related("owner").prefetch_related(
        Prefetch("jobs", queryset=Job.objects.order_by("column").prefetch_related(images_by_index()))
    )[:20]
    return {
        "compare_form": compare_form or ComparisonForm(),
        "sweep_form": sweep_form or SweepForm(),
        "model_choices": [(m, catalog.availability(m)) for m in catalog.models_for(catalog.Operation.GENERATE)],
        "aspects": comparisons.ASPECTS,
        "quality_tiers": comparisons.QUALITY_TIERS,
        "recent": recent,
        "categories": Comparison.objects.exclude(category="").values_list("category", flat=True).distinct()[:50],
        **extra,
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, INDEX, _index_context())


def _created(request: HttpRequest, make, form, context_key: str) -> HttpResponse:
    comparison = queue(form, lambda: make(form.cleaned_data))
    if comparison is not None:
        return redirect("studio:comparison", pk=comparison.pk)
    return render(request, INDEX, _index_context(**{context_key: form}, open_tab=context_key), status=form.status_code)


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    def make(data):
        fields = {
            k: data[k] for k in ("prompt", "negative_prompt", "aspect_ratio", "quality", "seed", "category", "models")
        }
        return comparisons.comparison_create(owner=request.user, **fields)

    return _created(request, make, ComparisonForm(request.POST), "compare_form")


@require_POST
def sweep(request: HttpRequest) -> HttpResponse:
    def make(data):
        fields = {k: data[k] for k in ("prompt", "negative_prompt", "aspect_ratio", "seed", "category", "model")}
        return comparisons.sweep_create(
            owner=request.user, setting=data["setting"].strip(), values=data["parsed_values"], **fields
        )

    return _created(request, make, SweepForm(request.POST), "sweep_form")


def _comparison(pk: int) -> Comparison:
    return get_object_or_404(Comparison.objects.select_related("owner", "rerun_of"), pk=pk)


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison(pk)
    columns = comparison.jobs.order_by("column").prefetch_related(images_by_index()).annotate(vote_count=Count("wins"))
    my_vote = Vote.objects.filter(comparison=comparison, user=request.user).values_list("winner_id", flat=True).first()
    context = {
        "comparison": comparison,
        "columns": columns,
        "finished": comparisons.is_finished(comparison),
        "my_vote": my_vote,
        "addable": [
            (m, catalog.availability(m))
            for m in catalog.models_for(catalog.Operation.GENERATE)
            if m.id not in comparison.settings.get("models", [])
        ],
    }
    return render(request, DETAIL, context)


@require_GET
def column(request: HttpRequest, pk: int, job_id: int) -> HttpResponse:
    comparison = _comparison(pk)
    job = get_object_or_404(
        comparison.jobs.prefetch_related(images_by_index()).annotate(vote_count=Count("wins")), pk=job_id
    )
    finished = comparisons.is_finished(comparison)
    response = render(request, f"{DETAIL}#column", {"comparison": comparison, "job": job, "finished": finished})
    if job.is_final and finished:
        response["HX-Refresh"] = "true"  # the last column is in: reload once to enable voting everywhere
    return response


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison(pk)
    winner = Job.objects.filter(pk=params.object_id(request.POST.get("winner")) or 0).first()
    try:
        if winner is None:
            raise ValueError("Pick one of the columns.")
        comparisons.vote_cast(comparison=comparison, user=request.user, winner=winner)
    except (comparisons.ComparisonNotFinished, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Vote recorded: {winner.model_label}. It counts towards the leaderboard.")
    return redirect("studio:comparison", pk=pk)


@require_POST
def rerun(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison(pk)
    add = [m for m in request.POST.getlist("add_models") if m in catalog.MODELS]
    disabled = [catalog.MODELS[m].label for m in add if not catalog.availability(catalog.MODELS[m]).enabled]
    if disabled:
        messages.error(request, f"Not available here: {', '.join(disabled)}.")
        return redirect("studio:comparison", pk=pk)
    try:
        again = comparisons.comparison_rerun(comparison=comparison, owner=request.user, add_models=add)
    except JobRefused as exc:
        messages.error(request, str(exc))
        return redirect("studio:comparison", pk=pk)
    return redirect("studio:comparison", pk=again.pk)


@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    category = params.text(request.GET.get("category", ""), 60)
    context = {
        "standings": comparisons.leaderboard(category=category),
        "category": category,
        "categories": Comparison.objects.exclude(category="").values_list("category", flat=True).distinct()[:50],
        "votes": Vote.objects.filter(comparison__kind="models").count(),
    }
    return render(request, "studio/leaderboard.html", context)
