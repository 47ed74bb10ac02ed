"""The battle page: a prompt (yours or the team's) against two models drawn at random, blind."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from studio import battles, comparisons
from studio.forms import BattleForm, queue

TEMPLATE = "studio/battle.html"


@require_http_methods(["GET", "POST"])
def battle(request: HttpRequest) -> HttpResponse:
    form = BattleForm(request.POST or None, initial={"prompt": request.GET.get("prompt", "")[:4000]})
    if request.method == "POST":

        def make():
            data = form.cleaned_data
            return battles.battle_create(
                owner=request.user, prompt=data["prompt"], aspect_ratio=data["aspect_ratio"], category=data["category"]
            )

        try:
            comparison = queue(form, make)
        except battles.NoPair as exc:
            form.add_error(None, str(exc))
            comparison = None
        if comparison is not None:
            return redirect("studio:comparison", pk=comparison.pk)
    context = {
        "form": form,
        "recent_prompts": battles.recent_prompts(),
        "aspects": comparisons.ASPECTS,
        "pool_size": len(battles.candidates()),
    }
    return render(request, TEMPLATE, context, status=422 if form.errors else 200)
