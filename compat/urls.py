"""The compatible APIs' routes: OpenAI's Images API and AUTOMATIC1111's web API, at their own paths."""

from django.urls import path

from compat import a1111_api, openai_api

app_name = "compat"
urlpatterns = [
    path("openai/v1/models", openai_api.models, name="openai-models"),
    path("openai/v1/models/<str:model_id>", openai_api.model_detail, name="openai-model"),
    path("openai/v1/images/generations", openai_api.generations, name="openai-generations"),
    path("openai/v1/images/edits", openai_api.edits, name="openai-edits"),
    path("openai/v1/images/variations", openai_api.variations, name="openai-variations"),
    path("sdapi/v1/txt2img", a1111_api.txt2img, name="a1111-txt2img"),
    path("sdapi/v1/img2img", a1111_api.img2img, name="a1111-img2img"),
    path("sdapi/v1/sd-models", a1111_api.sd_models, name="a1111-sd-models"),
    path("sdapi/v1/options", a1111_api.options, name="a1111-options"),
]
