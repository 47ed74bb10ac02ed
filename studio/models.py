"""Jobs: one request to one model, and its life from queued to a final state."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from studio import catalog


class Comparison(models.Model):
    """One prompt sent to several models (or one model across values of a setting), side by side."""

    class Kind(models.TextChoices):
        MODELS = "models"
        SWEEP = "sweep"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comparisons")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MODELS)
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    # aspect_ratio, quality and seed as asked; for a sweep also the model, setting and values.
    settings = models.JSONField(default=dict)
    category = models.CharField(max_length=60, blank=True, db_index=True, help_text="e.g. portrait, product")
    # Blind: columns are lettered in a shuffled order, and who made what stays hidden from each
    # person until they have voted.
    blind = models.BooleanField(default=False)
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Comparison {self.pk}"

    @property
    def aspect_box(self) -> str:
        """The asked aspect ratio as an SVG viewBox's size ("16 9"): a placeholder that gives
        away no model's exact size."""
        return self.settings.get("aspect_ratio", "1:1").replace(":", " ")


class Vote(models.Model):
    """A team member's verdict on a finished comparison: one column is best, all tie, or all bad."""

    class Outcome(models.TextChoices):
        BEST = "best"
        TIE = "tie"
        ALL_BAD = "all_bad", "All bad"
        RANKING = "ranking"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.BEST)
    winner = models.ForeignKey("Job", null=True, blank=True, on_delete=models.CASCADE, related_name="wins")
    # For a ranking: every finished column's number, best first (the winner is the first).
    ranking = models.JSONField(default=list, blank=True)
    # Cast before this person saw which model made which column.
    blind = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comparison", "user"], name="one_vote_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} voted {self.outcome} in comparison {self.comparison_id}"


class Game(models.Model):
    """One pair of models a vote decided, kept so the leaderboard is one GROUP BY, not a replay of
    every vote. A tie is stored as two rows, one each way, each worth half a game."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="games")
    winner = models.CharField(max_length=64)
    loser = models.CharField(max_length=64)
    tie = models.BooleanField(default=False)
    blind = models.BooleanField()
    # The offline renderer costs nothing, so its games are practice, never the team's ranking.
    practice = models.BooleanField()
    category = models.CharField(max_length=60, blank=True)
    # Marks that let one GROUP BY count votes without COUNT(DISTINCT): exactly one row of each
    # vote opens the vote; one row per vote for the pick, and for each model of a tie, opens that
    # model's part in it; `top` rows are the pick's games, so each other model loses exactly one.
    opens_vote = models.BooleanField(default=False)
    opens_model = models.BooleanField(default=False)
    top = models.BooleanField(default=False)

    class Meta:
        # Covering, in GROUP BY order: a board's query reads the index alone, in order.
        indexes = [
            models.Index(
                fields=["practice", "blind", "winner", "loser", "tie", "opens_model", "opens_vote", "top", "category"],
                name="game_board",
            )
        ]

    def __str__(self) -> str:
        return f"{self.winner} {'ties' if self.tie else 'beats'} {self.loser}"


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    operation = models.CharField(max_length=20, choices=[(op.value, op.value) for op in catalog.Operation])
    model_id = models.CharField(max_length=64, db_index=True)
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    # width, height, aspect, quality, n, seed, the model's options, and for edits strength, factor
    # or extension: everything needed to rerun it.
    params = models.JSONField(default=dict)
    # Lineage of edits: the gallery image it started from (if any), and the exact input pixels and
    # mask the provider received (storage names; the mask is white where the image may change).
    source_image = models.ForeignKey(
        "gallery.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_jobs"
    )
    source_file = models.CharField(max_length=255, blank=True)
    mask_file = models.CharField(max_length=255, blank=True)
    comparison = models.ForeignKey(Comparison, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    column = models.PositiveSmallIntegerField(default=0, help_text="Position within its comparison.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    error_kind = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_job_id = models.CharField(max_length=200, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Percent, when the provider says.")
    # The provider's latest look at the image while it works (storage name): shown, never a result.
    # Nullable: adding a NOT NULL column would make SQLite rebuild the table under the gallery's
    # full-text triggers.
    preview = models.CharField(max_length=255, null=True, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    # A failed or canceled job whose provider-side job (provider_job_id) may still hold the paid
    # result: the runner sets it when it fails a job after the purchase on a provider that can
    # resume, unless the provider's answer was final, and a canceled collection keeps it
    # (studio.jobs.job_cancel). Collect result fetches the result (it is cleared as the result is
    # handed over); month spend counts the job at its estimate meanwhile.
    result_held = models.BooleanField(default=False)
    # The failed or canceled job whose provider-side job this one collects: nothing is bought.
    collected_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="collections"
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The worker process running it ("host:pid"): a cluster restarted on that host recovers the
    # jobs of its dead predecessor at once, without waiting for their heartbeat to go stale.
    worker = models.CharField(max_length=200, null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-queued_at"]),
            models.Index(fields=["status", "queued_at"]),
            # A model's latest runs, for the studio's ETAs (studio.queue).
            models.Index(fields=["model_id", "status", "-finished_at"], name="job_model_recent_runs"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.model_id} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def letter(self) -> str:
        """The column's name in a blind comparison: A, B, C…"""
        return "ABCDEFGH"[self.column]

    @property
    def model(self) -> catalog.Model | None:
        return catalog.get_model(self.model_id)

    @property
    def model_label(self) -> str:
        return self.model.label if self.model else self.model_id

    @property
    def live_state(self) -> str:
        """What its card shows that can change while it runs; the studio page sends it back to learn
        when to redraw. `queue_position` is set by studio.queue.annotate on queued jobs."""
        position = getattr(self, "queue_position", None) if self.status == self.Status.QUEUED else None
        return f"{self.status}.{'' if self.progress is None else self.progress}.{self.preview or ''}.{position or ''}"

    @property
    def queue_seconds(self) -> float | None:
        if self.started_at:
            return (self.started_at - self.queued_at).total_seconds()
        return None

    @property
    def run_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Budget(models.Model):
    """A user's monthly spending limit in USD, checked before each job is queued."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget")
    monthly_usd = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.user_id}: ${self.monthly_usd}/month"
