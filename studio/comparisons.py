"""Comparisons: one prompt fanned out to several models (or one model over a setting's values),
the team's votes, and a Bradley–Terry leaderboard of models built from them."""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from studio import catalog, jobs
from studio.forms import JobSpec
from studio.models import Comparison, Job, Vote

MIN_COLUMNS, MAX_COLUMNS = 2, 6
ASPECTS = ("1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9")
QUALITY_TIERS = {"default": "Each model's default", "lowest": "Lowest", "highest": "Highest"}


class ComparisonNotFinished(Exception):
    pass


def _ratio(aspect: str) -> float:
    w, h = (int(x) for x in aspect.split(":"))
    return w / h


def quality_for(model: catalog.Model, tier: str) -> str:
    concrete = [q for q in model.qualities if q != "auto"] or list(model.qualities)
    return {"lowest": concrete[0], "highest": concrete[-1]}.get(tier, model.default_quality)


@dataclass(frozen=True)
class Column:
    spec: JobSpec
    notes: tuple[str, ...]


def model_column(model: catalog.Model, *, prompt: str, negative: str, aspect: str, tier: str, seed: int) -> Column:
    """One model's job in a comparison, fitted to what it accepts, with notes on every adjustment."""
    notes = []
    size = model.size_for_aspect(aspect)
    if size is None:
        size = model.nearest_size(_ratio(aspect))
        notes.append(f"No {aspect}; nearest is {size.aspect} ({size.width}×{size.height}).")
    if negative and not model.negative_prompt:
        notes.append("Ignores the negative prompt.")
    if not model.seed:
        notes.append("Takes no seed; results vary run to run.")
    spec = JobSpec(
        model=model,
        prompt=prompt,
        negative_prompt=negative if model.negative_prompt else "",
        size=size,
        quality=quality_for(model, tier),
        n=1,
        seed=seed,
        options={o.name: o.default for o in model.options},
    )
    return Column(spec, tuple(notes))


class ComparisonForm(forms.Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True,
                             error_messages={"required": "Write a prompt to compare the models on."})  # fmt: skip
    negative_prompt = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2}))
    aspect_ratio = forms.ChoiceField(choices=[(a, a) for a in ASPECTS], initial="1:1")
    quality = forms.ChoiceField(choices=list(QUALITY_TIERS.items()), initial="default")
    seed = forms.IntegerField(required=False, min_value=0, max_value=catalog.SEED_MAX,
                              help_text="Blank for a random seed, shared by every column.")  # fmt: skip
    category = forms.CharField(required=False, max_length=60, strip=True, help_text="Groups the leaderboard.")
    models = forms.MultipleChoiceField(
        choices=[(m.id, m.label) for m in catalog.models_for(catalog.Operation.GENERATE)]
    )

    def clean_models(self) -> list[str]:
        chosen = list(dict.fromkeys(self.cleaned_data["models"]))
        if not MIN_COLUMNS <= len(chosen) <= MAX_COLUMNS:
            raise forms.ValidationError(f"Pick {MIN_COLUMNS} to {MAX_COLUMNS} models; you picked {len(chosen)}.")
        disabled = [
            f"{catalog.MODELS[m].label} ({catalog.availability(catalog.MODELS[m]).reason})"
            for m in chosen
            if not catalog.availability(catalog.MODELS[m]).enabled
        ]
        if disabled:
            raise forms.ValidationError("Not available here: " + "; ".join(disabled) + ".")
        return chosen

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        prompt = cleaned.get("prompt", "")
        too_long = [
            catalog.MODELS[m].label
            for m in cleaned.get("models", [])
            if len(prompt) > catalog.MODELS[m].max_prompt_chars
        ]
        if too_long:
            self.add_error("prompt", f"The prompt is {len(prompt)} characters, too long for {', '.join(too_long)}.")
        return cleaned


class SweepForm(forms.Form):
    """One model, one setting, several values: quality, or any numeric or choice option."""

    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True,
                             error_messages={"required": "Write a prompt to sweep."})  # fmt: skip
    negative_prompt = forms.CharField(required=False, strip=True, widget=forms.Textarea(attrs={"rows": 2}))
    aspect_ratio = forms.ChoiceField(choices=[(a, a) for a in ASPECTS], initial="1:1")
    seed = forms.IntegerField(required=False, min_value=0, max_value=catalog.SEED_MAX)
    category = forms.CharField(required=False, max_length=60, strip=True)
    model = forms.ChoiceField(choices=[(m.id, m.label) for m in catalog.models_for(catalog.Operation.GENERATE)])
    setting = forms.CharField(help_text="quality, or one of the model's options, such as cfg_scale")
    values = forms.CharField(help_text="2 to 6 values, separated by commas")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        model = catalog.get_model(cleaned.get("model", ""))
        if model is None or "setting" not in cleaned or "values" not in cleaned:
            return cleaned
        if not catalog.availability(model).enabled:
            self.add_error("model", f"{model.label} is not available: {catalog.availability(model).reason}.")
            return cleaned
        setting = cleaned["setting"].strip()
        raw = [v.strip() for v in cleaned["values"].split(",") if v.strip()]
        if not MIN_COLUMNS <= len(raw) <= MAX_COLUMNS:
            self.add_error("values", f"Give {MIN_COLUMNS} to {MAX_COLUMNS} values; you gave {len(raw)}.")
            return cleaned
        try:
            cleaned["parsed_values"] = [self._parse(model, setting, value) for value in raw]
        except forms.ValidationError as exc:
            self.add_error("values", exc)
        return cleaned

    @staticmethod
    def _parse(model: catalog.Model, setting: str, value: str) -> Any:
        if setting == "quality":
            if value not in model.qualities:
                raise forms.ValidationError(f"{model.label} has no quality “{value}” ({', '.join(model.qualities)}).")
            return value
        option = model.option(setting)
        if option is None:
            names = ", ".join(["quality", *(o.name for o in model.options)])
            raise forms.ValidationError(f"{model.label} has no setting “{setting}”. Sweepable: {names}.")
        if option.kind == "choice":
            if value not in option.choices:
                raise forms.ValidationError(f"“{value}” is not one of {', '.join(option.choices)}.")
            return value
        if option.kind == "bool":
            return value.lower() in ("1", "true", "yes", "on")
        try:
            number = int(value) if option.kind == "int" else float(value)
        except ValueError:
            raise forms.ValidationError(f"“{value}” is not a number.") from None
        if not option.min <= number <= option.max:
            raise forms.ValidationError(f"{setting} goes from {option.min:g} to {option.max:g}; “{value}” is outside.")
        return number


def _seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbelow(catalog.SEED_MAX + 1)


@transaction.atomic
def comparison_create(
    *, owner: AbstractBaseUser, prompt: str, negative_prompt: str, aspect_ratio: str, quality: str,
    seed: int | None, category: str, models: list[str], rerun_of: Comparison | None = None,
) -> Comparison:  # fmt: skip
    seed = _seed(seed)
    comparison = Comparison.objects.create(
        owner=owner,
        prompt=prompt,
        negative_prompt=negative_prompt,
        settings={"aspect_ratio": aspect_ratio, "quality": quality, "seed": seed, "models": models},
        category=category,
        rerun_of=rerun_of,
    )
    for index, model_id in enumerate(models):
        column = model_column(
            catalog.MODELS[model_id],
            prompt=prompt,
            negative=negative_prompt,
            aspect=aspect_ratio,
            tier=quality,
            seed=seed,
        )
        jobs.job_create(owner=owner, spec=column.spec, comparison=comparison, column=index, notes=column.notes)
    return comparison


@transaction.atomic
def sweep_create(
    *, owner: AbstractBaseUser, prompt: str, negative_prompt: str, aspect_ratio: str, seed: int | None,
    category: str, model: str, setting: str, values: list[Any], rerun_of: Comparison | None = None,
) -> Comparison:  # fmt: skip
    seed = _seed(seed)
    settings = {"aspect_ratio": aspect_ratio, "seed": seed, "model": model, "setting": setting, "values": values}
    comparison = Comparison.objects.create(
        owner=owner, kind=Comparison.Kind.SWEEP, prompt=prompt, negative_prompt=negative_prompt,
        settings=settings, category=category, rerun_of=rerun_of,
    )  # fmt: skip
    base = model_column(
        catalog.MODELS[model], prompt=prompt, negative=negative_prompt, aspect=aspect_ratio, tier="default", seed=seed
    )
    for index, value in enumerate(values):
        if setting == "quality":
            spec = replace(base.spec, quality=value)
        else:
            spec = replace(base.spec, options={**base.spec.options, setting: value})
        notes = (*base.notes, f"{setting} = {value}")
        jobs.job_create(owner=owner, spec=spec, comparison=comparison, column=index, notes=notes)
    return comparison


def comparison_rerun(*, comparison: Comparison, owner: AbstractBaseUser, add_models: list[str] = ()) -> Comparison:
    """The same comparison again with a new seed, optionally with more models."""
    s = comparison.settings
    common = {"owner": owner, "prompt": comparison.prompt, "negative_prompt": comparison.negative_prompt,
              "aspect_ratio": s["aspect_ratio"], "seed": None, "category": comparison.category,
              "rerun_of": comparison}  # fmt: skip
    if comparison.kind == Comparison.Kind.SWEEP:
        return sweep_create(model=s["model"], setting=s["setting"], values=s["values"], **common)
    models = list(dict.fromkeys([*s["models"], *add_models]))[:MAX_COLUMNS]
    return comparison_create(quality=s["quality"], models=models, **common)


def is_finished(comparison: Comparison) -> bool:
    return not comparison.jobs.exclude(status__in=Job.FINAL).exists()


def vote_cast(*, comparison: Comparison, user: AbstractBaseUser, winner: Job) -> Vote:
    if not is_finished(comparison):
        raise ComparisonNotFinished("Wait until every column has finished before you vote.")
    if winner.comparison_id != comparison.pk or winner.status != Job.Status.SUCCEEDED:
        raise ValueError("Vote for one of this comparison's finished columns.")
    vote, _ = Vote.objects.update_or_create(comparison=comparison, user=user, defaults={"winner": winner})
    return vote


# --- Leaderboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    model: catalog.Model | None
    model_id: str
    rating: float
    low: float
    high: float
    wins: int
    games: int


def bradley_terry(pairs: list[tuple[str, str]], iterations: int = 200) -> dict[str, float]:
    """Ratings on an Elo-like scale (1000 = average) from (winner, loser) pairs.

    Hunter's MM algorithm, with every model given one virtual game, half won, against an average
    opponent, so a model that always wins or always loses still gets a finite rating."""
    players = {p for pair in pairs for p in pair}
    wins = Counter(winner for winner, _ in pairs)
    games: dict[str, Counter[str]] = defaultdict(Counter)
    for winner, loser in pairs:
        games[winner][loser] += 1
        games[loser][winner] += 1
    strength = dict.fromkeys(players, 1.0)
    for _ in range(iterations):
        updated = {}
        for p in players:
            denominator = sum(n / (strength[p] + strength[q]) for q, n in games[p].items()) + 1 / (strength[p] + 1)
            updated[p] = (wins[p] + 0.5) / denominator
        mean = math.exp(sum(math.log(v) for v in updated.values()) / len(updated)) if updated else 1
        strength = {p: v / mean for p, v in updated.items()}
    return {p: 1000 + 400 * math.log10(v) for p, v in strength.items()}


def vote_pairs(*, category: str = "") -> list[list[tuple[str, str]]]:
    """For each vote on a model comparison, the (winner, loser) model pairs it implies."""
    votes = Vote.objects.filter(comparison__kind=Comparison.Kind.MODELS).select_related("winner")
    if category:
        votes = votes.filter(comparison__category__iexact=category)
    columns: dict[int, list[str]] = defaultdict(list)
    for comparison_id, model_id in Job.objects.filter(
        comparison__in=votes.values("comparison"), status=Job.Status.SUCCEEDED
    ).values_list("comparison_id", "model_id"):
        columns[comparison_id].append(model_id)
    return [
        [(vote.winner.model_id, other) for other in columns[vote.comparison_id] if other != vote.winner.model_id]
        for vote in votes
    ]


def leaderboard(*, category: str = "", resamples: int = 200, seed: int = 7) -> list[Standing]:
    """Models ranked by Bradley–Terry rating, with a 95% bootstrap interval over the votes."""
    per_vote = [pairs for pairs in vote_pairs(category=category) if pairs]
    all_pairs = [pair for pairs in per_vote for pair in pairs]
    if not all_pairs:
        return []
    ratings = bradley_terry(all_pairs)
    rng = random.Random(seed)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(resamples):
        drawn = [pair for pairs in rng.choices(per_vote, k=len(per_vote)) for pair in pairs]
        resampled = bradley_terry(drawn, iterations=60)
        for model_id in ratings:
            samples[model_id].append(resampled.get(model_id, 1000.0))
    wins = Counter(w for w, _ in all_pairs)
    games = Counter(p for pair in all_pairs for p in pair)
    standings = []
    for model_id, rating in ratings.items():
        ordered = sorted(samples[model_id])
        low, high = ordered[int(0.025 * (len(ordered) - 1))], ordered[int(0.975 * (len(ordered) - 1))]
        standings.append(
            Standing(catalog.get_model(model_id), model_id, rating, low, high, wins[model_id], games[model_id])
        )
    return sorted(standings, key=lambda s: -s.rating)
