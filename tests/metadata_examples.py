"""Settings as other tools write them, each citing its source: ComfyUI's two are its published
default workflow copied as published; InvokeAI's and A1111's follow the writers' own field lists,
with values of ours. The tests build the files with Pillow's PngInfo (and piexif for A1111's JPEG)
exactly as those tools' writers do."""

import io

from PIL import Image
from PIL.PngImagePlugin import PngInfo


def png_with(chunks: dict[str, str], size: tuple[int, int] = (64, 64)) -> bytes:
    """A PNG as ComfyUI's SaveImage, InvokeAI's image store and A1111's save_image write one:
    each chunk added with PngInfo.add_text."""
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", size, (90, 60, 30)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


# ComfyUI's default workflow in API format: comfyanonymous/ComfyUI, script_examples/basic_api_example.py
# ("this is the one for the default workflow"). SaveImage writes it as the `prompt` chunk.
COMFYUI_DEFAULT_PROMPT = """
{
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "cfg": 8,
            "denoise": 1,
            "latent_image": [
                "5",
                0
            ],
            "model": [
                "4",
                0
            ],
            "negative": [
                "7",
                0
            ],
            "positive": [
                "6",
                0
            ],
            "sampler_name": "euler",
            "scheduler": "normal",
            "seed": 8566257,
            "steps": 20
        }
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {
            "ckpt_name": "v1-5-pruned-emaonly.safetensors"
        }
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {
            "batch_size": 1,
            "height": 512,
            "width": 512
        }
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {
            "clip": [
                "4",
                1
            ],
            "text": "masterpiece best quality girl"
        }
    },
    "7": {
        "class_type": "CLIPTextEncode",
        "inputs": {
            "clip": [
                "4",
                1
            ],
            "text": "bad hands"
        }
    },
    "8": {
        "class_type": "VAEDecode",
        "inputs": {
            "samples": [
                "3",
                0
            ],
            "vae": [
                "4",
                2
            ]
        }
    },
    "9": {
        "class_type": "SaveImage",
        "inputs": {
            "filename_prefix": "ComfyUI",
            "images": [
                "8",
                0
            ]
        }
    }
}
"""

# ComfyUI's default graph as the editor saves it (the `workflow` chunk): Comfy-Org/ComfyUI_frontend,
# src/scripts/defaultGraph.ts, written out as JSON (the TypeScript literal's keys quoted).
COMFYUI_DEFAULT_WORKFLOW = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [
        {"id": 7, "type": "CLIPTextEncode", "pos": [413, 389], "size": [425.27801513671875, 180.6060791015625],
         "flags": {}, "order": 3, "mode": 0, "inputs": [{"name": "clip", "type": "CLIP", "link": 5}],
         "outputs": [{"name": "CONDITIONING", "type": "CONDITIONING", "links": [6], "slot_index": 0}],
         "properties": {}, "widgets_values": ["text, watermark"]},
        {"id": 6, "type": "CLIPTextEncode", "pos": [415, 186], "size": [422.84503173828125, 164.31304931640625],
         "flags": {}, "order": 2, "mode": 0, "inputs": [{"name": "clip", "type": "CLIP", "link": 3}],
         "outputs": [{"name": "CONDITIONING", "type": "CONDITIONING", "links": [4], "slot_index": 0}],
         "properties": {},
         "widgets_values": ["beautiful scenery nature glass bottle landscape, , purple galaxy bottle,"]},
        {"id": 5, "type": "EmptyLatentImage", "pos": [473, 609], "size": [315, 106], "flags": {}, "order": 1,
         "mode": 0, "outputs": [{"name": "LATENT", "type": "LATENT", "links": [2], "slot_index": 0}],
         "properties": {}, "widgets_values": [512, 512, 1]},
        {"id": 3, "type": "KSampler", "pos": [863, 186], "size": [315, 262], "flags": {}, "order": 4, "mode": 0,
         "inputs": [{"name": "model", "type": "MODEL", "link": 1},
                    {"name": "positive", "type": "CONDITIONING", "link": 4},
                    {"name": "negative", "type": "CONDITIONING", "link": 6},
                    {"name": "latent_image", "type": "LATENT", "link": 2}],
         "outputs": [{"name": "LATENT", "type": "LATENT", "links": [7], "slot_index": 0}],
         "properties": {}, "widgets_values": [156680208700286, True, 20, 8, "euler", "normal", 1]},
        {"id": 8, "type": "VAEDecode", "pos": [1209, 188], "size": [210, 46], "flags": {}, "order": 5, "mode": 0,
         "inputs": [{"name": "samples", "type": "LATENT", "link": 7}, {"name": "vae", "type": "VAE", "link": 8}],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [9], "slot_index": 0}], "properties": {}},
        {"id": 9, "type": "SaveImage", "pos": [1451, 189], "size": [210, 26], "flags": {}, "order": 6, "mode": 0,
         "inputs": [{"name": "images", "type": "IMAGE", "link": 9}], "properties": {}},
        {"id": 4, "type": "CheckpointLoaderSimple", "pos": [26, 474], "size": [315, 98], "flags": {}, "order": 0,
         "mode": 0,
         "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1], "slot_index": 0},
                     {"name": "CLIP", "type": "CLIP", "links": [3, 5], "slot_index": 1},
                     {"name": "VAE", "type": "VAE", "links": [8], "slot_index": 2}],
         "properties": {}, "widgets_values": ["v1-5-pruned-emaonly.ckpt"]},
    ],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"], [4, 6, 0, 3, 1, "CONDITIONING"],
        [5, 4, 1, 7, 0, "CLIP"], [6, 7, 0, 3, 2, "CONDITIONING"], [7, 3, 0, 8, 0, "LATENT"], [8, 4, 2, 8, 1, "VAE"],
        [9, 8, 0, 9, 0, "IMAGE"],
    ],
    "groups": [],
    "config": {},
    "extra": {},
    "version": 0.4,
    "models": [{
        "name": "v1-5-pruned-emaonly.ckpt",
        "url": "https://huggingface.co/runwayml/stable-diffusion-v1-5/resolve/main/v1-5-pruned-emaonly.ckpt",
        "hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
        "hash_type": "SHA256",
        "directory": "checkpoints",
    }],
}  # fmt: skip

# InvokeAI 5's `invokeai_metadata`: the fields of CoreMetadataInvocation
# (invoke-ai/InvokeAI, invokeai/app/invocations/metadata.py), the model as a ModelIdentifierField
# {key, hash, name, base, type}, as the linear UI's SDXL text-to-image graph fills them.
INVOKEAI_METADATA = {
    "generation_mode": "sdxl_txt2img",
    "positive_prompt": "a lighthouse on a cliff, storm, oil painting",
    "negative_prompt": "blurry, text",
    "width": 1024,
    "height": 1024,
    "seed": 1234567890,
    "rand_device": "cpu",
    "cfg_scale": 6.0,
    "cfg_rescale_multiplier": 0,
    "steps": 30,
    "scheduler": "dpmpp_2m_k",
    "model": {"key": "9b6c1c2e", "hash": "blake3:0f3b", "name": "Juggernaut XL v9", "base": "sdxl", "type": "main"},
    "loras": [],
    "positive_style_prompt": "",
    "negative_style_prompt": "",
    "app_version": "5.4.2",
}

# InvokeAI 2's `sd-metadata` (invoke-ai/InvokeAI, ldm/invoke/pngwriter.py writes it with
# `info.add_text("sd-metadata", json.dumps(metadata))`), the shape of its published examples: the
# negative prompt in [brackets] inside the prompt.
INVOKEAI_SD_METADATA = {
    "model": "stable diffusion",
    "model_weights": "stable-diffusion-1.5",
    "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "v2.2.4",
    "image": {
        "prompt": [{"prompt": "a lonely robot reading a book [blurry, text]", "weight": 1}],
        "steps": 50,
        "cfg_scale": 7.5,
        "threshold": 0,
        "perlin": 0,
        "height": 768,
        "width": 512,
        "seed": 2502935700,
        "seamless": False,
        "hires_fix": False,
        "type": "txt2img",
        "postprocessing": None,
        "sampler": "k_euler_a",
        "variations": [],
    },
}

# AUTOMATIC1111's infotext as 1.10 writes it (modules/processing.py create_infotext: the sampler,
# then the schedule type, CFG scale, seed, size, model hash, model, version).
A1111_PARAMETERS = (
    "a red fox in the snow, detailed fur\n"
    "Negative prompt: lowres, watermark\n"
    "Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3141592653, Size: 832x1216, "
    "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.10.1"
)
