"""What a user has set through the AUTOMATIC1111 API: its current model, as A1111 keeps one."""

from django.conf import settings
from django.db import models


class A1111Settings(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="a1111_settings")
    sd_model_checkpoint = models.CharField(max_length=64, help_text="The catalog id txt2img and img2img use.")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.sd_model_checkpoint}"
