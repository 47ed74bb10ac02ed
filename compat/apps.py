from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "compat"
    verbose_name = "Compatible APIs (OpenAI Images, AUTOMATIC1111)"
