"""Compare pages: fan a prompt out to models or sweep a setting, watch columns fill, vote, rank."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from django.contrib import messages
from django.core.files.storage import default_storage
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from gallery.models import Image
from studio import catalog, comparisons, imaging, leaderboard, params
from studio.forms import ComparisonForm, SweepForm, queue
from studio.jobs import JobRefused, images_by_index
from studio.models import Comparison, Job, Vote

INDEX = "studio/compare.html"
DETAIL = "studio/comparison.html"


def _index_context(request: HttpRequest, compare_form=None, sweep_form=None, **extra):
    recent = list(
        Comparison.objects.select_related("owner").prefetch_related(
            Prefetch("jobs", queryset=Job.objects.order_by("column").prefetch_related(images_by_index()))
        )[:20]
    )
    voted = set(Vote.objects.filter(user=request.user, comparison__in=recent).values_list("comparison_id", flat=True))
    return {
        "compare_form": compare_form or ComparisonForm(),
        "sweep_form": sweep_form or SweepForm(),
        "model_choices": [(m, catalog.availability(m)) for m in catalog.models_for(catalog.Operation.GENERATE)],
        "aspects": comparisons.ASPECTS,
        "quality_tiers": comparisons.QUALITY_TIERS,
        "recent": [(c, not c.blind or c.pk in voted) for c in recent],
        "categories": Comparison.objects.exclude(category="").values_list("category", flat=True).distinct()[:50],
        **extra,
    }


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, INDEX, _index_context(request))


def _created(request: HttpRequest, make, form, context_key: str) -> HttpResponse:
    comparison = queue(form, lambda: make(form.cleaned_data))
    if comparison is not None:
        return redirect("studio:comparison", pk=comparison.pk)
    return render(
        request, INDEX, _index_context(request, **{context_key: form}, open_tab=context_key), status=form.status_code
    )


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    def make(data):
        fields = {
            k: data[k] for k in ("prompt", "negative_prompt", "aspect_ratio", "quality", "seed", "category", "models")
        }
        return comparisons.comparison_create(owner=request.user, blind=not data["labelled"], **fields)

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


def _my_vote(comparison: Comparison, user) -> Vote | None:
    return Vote.objects.filter(comparison=comparison, user=user).select_related("winner").first()


@dataclass(frozen=True)
class ColumnView:
    """A column as one person sees it: the image shown (one Midjourney quadrant, or its grid)."""

    job: Job
    image: Image | None
    show: str  # "1"–"4" or "grid" for a Midjourney grid, "" otherwise


def _column_view(job: Job, show: str = "") -> ColumnView:
    images = list(job.images.all())
    if not job.usage.get("grid") or len(images) < 5:
        return ColumnView(job, images[0] if images else None, "")
    show = show if show in ("1", "2", "3", "4", "grid") else "1"
    return ColumnView(job, images[0] if show == "grid" else images[int(show)], show)


def _columns(comparison: Comparison):
    return comparison.jobs.order_by("column").prefetch_related(images_by_index()).annotate(vote_count=Count("wins"))


def _body_context(request: HttpRequest, comparison: Comparison) -> dict:
    my_vote = _my_vote(comparison, request.user)
    columns = [_column_view(job) for job in _columns(comparison)]
    tally = dict(comparison.votes.values_list("outcome").annotate(n=Count("id")).order_by())
    return {
        "comparison": comparison,
        "columns": columns,
        "finished": all(c.job.is_final for c in columns),
        "my_vote": my_vote,
        "revealed": comparisons.revealed(comparison, my_vote),
        "tally": tally,
        "addable": [
            (m, catalog.availability(m))
            for m in catalog.models_for(catalog.Operation.GENERATE)
            if m.id not in comparison.settings.get("models", [])
        ],
    }


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison(pk)
    context = {**_body_context(request, comparison), "leaderboard_query": comparisons.leaderboard_query(comparison)}
    return render(request, DETAIL, context)


@require_GET
def column(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    """One column, polled until its job is final; once every column is, the vote panel opens
    in the same response (an out-of-band swap), so the page never reloads."""
    comparison = _comparison(pk)
    job = get_object_or_404(_columns(comparison), column=position)
    my_vote = _my_vote(comparison, request.user)
    revealed = comparisons.revealed(comparison, my_vote)
    finished = comparisons.is_finished(comparison)
    context = {
        "comparison": comparison,
        "column": _column_view(job, request.GET.get("show", "") if revealed else ""),
        "finished": finished,
        "my_vote": my_vote,
        "revealed": revealed,
    }
    if job.is_final and finished and "show" not in request.GET:  # a poll's last answer, not a quadrant switch
        context["columns"] = [_column_view(j) for j in _columns(comparison)]
        context["vote_panel_oob"] = True
    return render(request, f"{DETAIL}#column", context)


@require_GET
def column_image(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    """A column's image under a URL that names neither model nor image, with the PNG's text
    chunks (which name the model) removed until this person has voted."""
    comparison = _comparison(pk)
    job = get_object_or_404(comparison.jobs.prefetch_related(images_by_index()), column=position)
    image = _column_view(job).image
    if image is None:
        raise Http404("This column has no image.")
    with default_storage.open(image.file) as f:
        data = f.read()
    if not comparisons.revealed(comparison, _my_vote(comparison, request.user)):
        data = imaging.without_png_text(data)
    content_type = mimetypes.guess_type(image.file)[0] or "application/octet-stream"
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"  # the same URL serves more once revealed
    return response


def _parse_vote(value: str) -> dict:
    """ "best:2", "tie", "all_bad" or "ranking:2,0,1" (column numbers, best first)."""
    outcome, _, columns = value.partition(":")
    numbers = [params.object_id(c) for c in columns.split(",")[:20] if c.strip()]
    if outcome == "ranking":
        return {"outcome": outcome, "ranking": numbers}
    return {"outcome": outcome, "pick": numbers[0] if numbers else None}


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison(pk)
    status = 200
    try:
        cast = comparisons.vote_cast(
            comparison=comparison, user=request.user, **_parse_vote(request.POST.get("vote", ""))
        )
    except (comparisons.ComparisonNotFinished, ValueError) as exc:
        messages.error(request, str(exc))
        status = 422
    else:
        messages.success(request, f"Vote recorded: {_verdict(cast)}. {_counts_where(comparison, cast)}")
    if not request.htmx:
        return redirect("studio:comparison", pk=pk)
    context = {**_body_context(request, comparison), "oob_messages": True}
    return render(request, f"{DETAIL}#body", context, status=status)


def _verdict(vote: Vote) -> str:
    if vote.outcome == Vote.Outcome.BEST:
        return f"{vote.winner.letter} ({vote.winner.model_label}) is best"
    if vote.outcome == Vote.Outcome.RANKING:
        return f"{vote.winner.letter} ({vote.winner.model_label}) first in your ranking"
    return vote.get_outcome_display().lower()


def _counts_where(comparison: Comparison, vote: Vote) -> str:
    if comparison.kind == Comparison.Kind.SWEEP:
        return "Sweeps do not count towards the leaderboard."
    if any(g.practice for g in vote.games.all()):
        return "Offline-renderer games count on the practice board only."
    return f"It counts towards the {'blind' if vote.blind else 'labelled'} leaderboard."


@require_POST
def rerun(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = _comparison(pk)
    add = [m for m in request.POST.getlist("add_models") if m in catalog.MODELS]
    if add and not comparisons.revealed(comparison, _my_vote(comparison, request.user)):
        messages.error(request, "Vote first: adding models would show which ones are here.")
        return redirect("studio:comparison", pk=pk)
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
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    category = params.text(request.GET.get("category", ""), 60)
    votes = "labelled" if request.GET.get("votes") == "labelled" else "blind"
    practice = request.GET.get("models") == "practice"
    pool = leaderboard.Pool(blind=votes == "blind", practice=practice, category=category)
    board = leaderboard.board(pool)
    context = {
        "board": board,
        "rows": list(zip(board.standings, board.matrix, strict=True)),
        "category": category,
        "votes_kind": votes,
        "practice": practice,
        "categories": leaderboard.categories(),
    }
    return render(request, "studio/leaderboard.html", context)
