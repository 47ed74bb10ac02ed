"""One sampler, four spellings: Stability's (the catalog's), AUTOMATIC1111's, ComfyUI's, InvokeAI's.

A1111's names and aliases are those of modules/sd_samplers_kdiffusion.py (`samplers_k_diffusion`)
and sd_samplers_timesteps.py (DDIM); ComfyUI's are comfy/samplers.py KSAMPLER_NAMES; InvokeAI's are
its SCHEDULER_NAME_VALUES (a `_k` suffix there means the Karras schedule).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampler:
    stability: str
    a1111: str
    comfyui: str
    invokeai: str = ""  # "" where InvokeAI has no scheduler of that kind
    a1111_aliases: tuple[str, ...] = ()  # also InvokeAI 2's sd-metadata names


SAMPLERS = (
    Sampler("K_DPMPP_2M", "DPM++ 2M", "dpmpp_2m", "dpmpp_2m", ("k_dpmpp_2m",)),
    Sampler("K_DPMPP_2S_ANCESTRAL", "DPM++ 2S a", "dpmpp_2s_ancestral", "", ("k_dpmpp_2s_a",)),
    Sampler("K_DPM_2", "DPM2", "dpm_2", "kdpm_2", ("k_dpm_2",)),
    Sampler("K_DPM_2_ANCESTRAL", "DPM2 a", "dpm_2_ancestral", "kdpm_2_a", ("k_dpm_2_a",)),
    Sampler("K_EULER", "Euler", "euler", "euler", ("k_euler",)),
    Sampler("K_EULER_ANCESTRAL", "Euler a", "euler_ancestral", "euler_a", ("k_euler_a", "k_euler_ancestral")),
    Sampler("K_HEUN", "Heun", "heun", "heun", ("k_heun",)),
    Sampler("K_LMS", "LMS", "lms", "lms", ("k_lms",)),
    Sampler("DDIM", "DDIM", "ddim", "ddim", ("ddim",)),
    Sampler("DDPM", "DDPM", "ddpm", "ddpm"),
)
# Before A1111 1.9 the schedule was part of the sampler's name ("DPM++ 2M Karras").
A1111_SCHEDULE_SUFFIXES = (" Karras", " Exponential")


def a1111_name(stability: str) -> str:
    """The name A1111 writes for a catalog sampler; unknown names pass through unchanged."""
    return next((s.a1111 for s in SAMPLERS if s.stability == stability), stability)


def from_a1111(name: str) -> tuple[str, str]:
    """(Stability's name or the name as given, the schedule the old-style name carried or "")."""
    schedule = ""
    for suffix in A1111_SCHEDULE_SUFFIXES:
        if name.endswith(suffix):
            name, schedule = name.removesuffix(suffix), suffix.strip()
    match = next((s for s in SAMPLERS if name == s.a1111 or name in s.a1111_aliases or name == s.stability), None)
    return (match.stability if match else name), schedule


def from_comfyui(name: str) -> str:
    return next((s.stability for s in SAMPLERS if s.comfyui == name), name)


def from_invokeai(name: str) -> tuple[str, str]:
    """(Stability's name or the name as given, "Karras" when InvokeAI's `_k` variant was used)."""
    base, karras = (name.removesuffix("_k"), "Karras") if name.endswith("_k") else (name, "")
    match = next((s for s in SAMPLERS if s.invokeai and s.invokeai == base), None)
    return (match.stability, karras) if match else (name, "")
