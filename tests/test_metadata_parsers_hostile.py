"""The metadata readers take JSON and text anyone could have written: whatever its shape, they
return settings or None, and restoring them onto any model never raises."""

import hypothesis
from hypothesis import strategies as st

from studio.metadata import a1111, comfyui, invokeai, reader, restore

KEYS = ["3", "4", "class_type", "inputs", "seed", "noise_seed", "steps", "cfg", "positive", "negative", "model",
        "latent_image", "text", "width", "height", "ckpt_name", "lora_name", "nodes", "links", "widgets_values",
        "type", "id", "link", "name", "image", "prompt", "sampler", "sampler_name", "scheduler", "denoise", "loras",
        "positive_prompt", "negative_prompt", "cfg_scale", "model_weights", "options", "quality",
        "generation_mode"]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "3", "KSampler", "KSamplerAdvanced", "CLIPTextEncode", "euler", "dpmpp_2m_k", "k_lms"]),
    st.text(max_size=20),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=8)
    ),
    max_leaves=40,
)
LINKS = st.tuples(st.sampled_from(["3", "4", "5", 3]) | SCALARS, st.integers(0, 2) | SCALARS).map(list)
NODE_INPUTS = st.dictionaries(st.sampled_from(KEYS), LINKS | SCALARS | JSON, max_size=8)
CLASS = st.sampled_from(["KSampler", "KSamplerAdvanced", "CLIPTextEncode", "EmptyLatentImage", "LoraLoader"]) | JSON
# An API-format graph: node id -> {class_type, inputs} where an input may link to another node.
GRAPH = st.dictionaries(
    st.sampled_from(["3", "4", "5"]), st.fixed_dictionaries({"class_type": CLASS, "inputs": NODE_INPUTS}) | JSON
)
# The editor's graph: nodes with widget values and input slots, links as lists.
SLOT = st.fixed_dictionaries({"name": st.sampled_from(KEYS) | SCALARS, "link": st.integers(1, 5) | JSON})
NODE = st.fixed_dictionaries(
    {"id": st.integers(1, 5) | SCALARS, "type": CLASS, "widgets_values": JSON, "inputs": st.lists(SLOT) | JSON}
)
LINK = st.lists(st.integers(1, 5) | SCALARS, max_size=6)
WORKFLOW = st.fixed_dictionaries({"nodes": st.lists(NODE | JSON, max_size=5) | JSON, "links": st.lists(LINK) | JSON})
MODELS = st.sampled_from(
    ["sdxl-1.0", "offline", "gpt-image-1.5", "gpt-image-2", "flux-schnell", "midjourney-v7", "", "x"]
)
SETTINGS = hypothesis.settings(max_examples=300, derandomize=True, database=None, deadline=None)


@hypothesis.settings(SETTINGS, max_examples=150)  # generating nested JSON is the slow part
@hypothesis.given(JSON | GRAPH | WORKFLOW, MODELS)
def test_any_json_reads_as_settings_or_none(value, model):
    for parse in (comfyui.from_prompt, comfyui.from_workflow, invokeai.from_metadata, invokeai.from_sd_metadata,
                  reader.from_atelier):  # fmt: skip
        found = parse(value)
        if found is not None:
            restore.onto(found, model).request_json()


A1111_PIECES = st.sampled_from(["Steps", "Seed", "Size", "Sampler", "CFG scale", "Options", "Model", "Quality", ": ",
                                ", ", "\n", '"', "\\", "\x00", "12x34", "0x5", "-3", "nan", '{"a": [1]}', "é",
                                "sdxl-1.0", "Negative prompt:", "DPM++ 2M Karras"])  # fmt: skip


@SETTINGS
@hypothesis.given(st.lists(A1111_PIECES, max_size=60).map("".join), MODELS)
def test_any_parameters_text_reads_as_settings_or_none(text, model):
    found = a1111.parse(text)
    if found is not None:
        restore.onto(found, model).request_json()


@SETTINGS
@hypothesis.given(st.binary(max_size=300))
def test_any_exif_reads_as_a_comment_or_nothing(data):
    for exif in (data, b"Exif\x00\x00" + data, b"MM\x00*\x00\x00\x00\x08" + data):
        assert isinstance(reader.user_comment(exif), str)
