"""ComfyUI's PNG chunks: `prompt`, the graph it ran in API format, and `workflow`, the editor's graph.

Written by ComfyUI's SaveImage node (nodes.py: `metadata.add_text("prompt", json.dumps(prompt))`, and
each of `extra_pnginfo`, which holds `workflow`). The settings are found from the sampler node: its
seed, steps, cfg and sampler, and by following its links the prompt texts, the latent size and the
checkpoint. A graph is data anyone could have written: every step is bounded and type-checked.
"""

from __future__ import annotations

from typing import Any

from studio.metadata import Found, integer, number, samplers, text

SAMPLER_NODES = {"KSampler": "seed", "KSamplerAdvanced": "noise_seed"}
TEXT_INPUTS = (
    "text",
    "text_g",
    "t5xxl",
    "clip_l",
    "string",
    "value",
    "prompt",
)  # CLIPTextEncode, its SDXL and Flux kin
MODEL_INPUTS = ("ckpt_name", "unet_name")
MAX_HOPS = 32  # nodes visited following one input
# Widget names in the order the editor's `widgets_values` lists them, for the nodes read here
# (`control_after_generate` is the editor's own widget after every seed).
WIDGETS = {
    "KSampler": ("seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"),
    "KSamplerAdvanced": ("add_noise", "noise_seed", "control_after_generate", "steps", "cfg", "sampler_name",
                         "scheduler", "start_at_step", "end_at_step", "return_with_leftover_noise"),
    "CLIPTextEncode": ("text",),
    "EmptyLatentImage": ("width", "height", "batch_size"),
    "EmptySD3LatentImage": ("width", "height", "batch_size"),
    "CheckpointLoaderSimple": ("ckpt_name",),
    "UNETLoader": ("unet_name", "weight_dtype"),
    "LoraLoader": ("lora_name", "strength_model", "strength_clip"),
    "LoraLoaderModelOnly": ("lora_name", "strength_model"),
}  # fmt: skip

Graph = dict[str, dict[str, Any]]


def _node_id(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() and len(key) < 20 else (2**63, key)


def _linked(graph: Graph, value: Any) -> dict[str, Any] | None:
    """The node an input's link [node id, output index] points at."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int):
        node = graph.get(str(value[0]))
        return node if isinstance(node, dict) else None
    return None


def _inputs(node: dict[str, Any]) -> dict[str, Any]:
    inputs = node.get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def _upstream(graph: Graph, link: Any, names: tuple[str, ...], kind: type) -> tuple[Any, list[dict[str, Any]]]:
    """The first value of one of `names` of type `kind` found walking up from a link, breadth
    first, and the nodes passed on the way (LoRA loaders sit between the checkpoint and the sampler)."""
    queue = [_linked(graph, link)]
    seen: list[dict[str, Any]] = []
    while queue and len(seen) < MAX_HOPS:
        node = queue.pop(0)
        if node is None or any(node is s for s in seen):
            continue
        seen.append(node)
        inputs = _inputs(node)
        for name in names:
            if isinstance(inputs.get(name), kind) and not isinstance(inputs.get(name), bool):
                return inputs[name], seen
        queue.extend(_linked(graph, value) for value in inputs.values())
    return None, seen


def from_prompt(graph: Any) -> Found | None:
    """The settings in an API-format graph, or None when it has no sampler node."""
    if not isinstance(graph, dict):
        return None
    found = sorted(
        (_node_id(str(key)), node)
        for key, node in graph.items()
        if isinstance(node, dict) and text(node.get("class_type")) in SAMPLER_NODES
    )
    if not found:
        return None
    sampler = found[0][1]
    inputs = _inputs(sampler)
    prompt, _ = _upstream(graph, inputs.get("positive"), TEXT_INPUTS, str)
    negative, _ = _upstream(graph, inputs.get("negative"), TEXT_INPUTS, str)
    width, _ = _upstream(graph, inputs.get("latent_image"), ("width",), int)
    height, _ = _upstream(graph, inputs.get("latent_image"), ("height",), int)
    model, path = _upstream(graph, inputs.get("model"), MODEL_INPUTS, str)
    others = [("Scheduler", str(inputs["scheduler"]))] if isinstance(inputs.get("scheduler"), str) else []
    if number(inputs.get("denoise")) not in (None, 1):
        others.append(("Denoise", str(inputs["denoise"])))
    others += [("LoRA", str(_inputs(n)["lora_name"])) for n in path if isinstance(_inputs(n).get("lora_name"), str)]
    if len(found) > 1:
        others.append(("Other samplers", f"{len(found) - 1} more (a hires or refiner pass); the first is restored"))
    sampler_name = inputs.get("sampler_name")
    return Found(
        "ComfyUI",
        prompt=prompt or "",
        negative_prompt=negative or "",
        model=model or "",
        seed=integer(inputs.get(SAMPLER_NODES[sampler["class_type"]])),
        width=width,
        height=height,
        steps=integer(inputs.get("steps")),
        cfg_scale=number(inputs.get("cfg")),
        sampler=samplers.from_comfyui(sampler_name) if isinstance(sampler_name, str) else "",
        others=tuple(others),
    )


def from_workflow(workflow: Any) -> Found | None:
    """The settings in the editor's graph (`workflow`), read by turning it into the API format."""
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        return None
    links = {
        link[0]: [str(link[1]), link[2]]
        for link in _list(workflow.get("links"))
        if isinstance(link, list) and len(link) >= 3 and isinstance(link[0], int)
    }
    graph: Graph = {}
    for node in workflow["nodes"]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            continue
        values = node.get("widgets_values")
        names = WIDGETS.get(node["type"], ())
        if node["type"] == "KSampler" and isinstance(values, list) and len(values) == len(names) - 1:
            names = tuple(n for n in names if n != "control_after_generate")  # saved before that widget
        inputs = dict(zip(names, values, strict=False)) if isinstance(values, list) else {}
        for slot in _list(node.get("inputs")):
            link = slot.get("link") if isinstance(slot, dict) else None
            if isinstance(link, int) and link in links and isinstance(slot.get("name"), str):
                inputs[slot["name"]] = links[link]
        graph[str(node.get("id"))] = {"class_type": node["type"], "inputs": inputs}
    return from_prompt(graph)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
