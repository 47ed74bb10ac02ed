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
    rerun_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Comparison {self.pk}"


class Vote(models.Model):
    """A team member's pick of the best column of a finished comparison."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    winner = models.ForeignKey("Job", on_delete=models.CASCADE, related_name="wins")
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["comparison", "user"], name="one_vote_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} picked job {self.winner_id} in comparison {self.comparison_id}"


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
    usage = models.JSONField(default=dict, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The worker process running it ("host:pid"): a cluster restarted on that host recovers the
    # jobs of its dead predecessor at once, without waiting for their heartbeat to go stale.
    worker = models.CharField(max_length=200, null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["owner", "-queued_at"]), models.Index(fields=["status", "queued_at"])]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.model_id} {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def model(self) -> catalog.Model | None:
        return catalog.get_model(self.model_id)

    @property
    def model_label(self) -> str:
        return self.model.label if self.model else self.model_id

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
