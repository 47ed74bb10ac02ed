"""Print docs/models.md: the catalog's models and every constraint on them, from the typed data."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from studio import catalog
from studio.catalog import Model, Option, OptionKind, SizeRule

OPERATIONS = list(catalog.Operation)
YES_NO = {True: "yes", False: "no"}


def operations_table() -> str:
    """Models × operations, as a Markdown table."""
    lines = [
        "| model | provider | " + " | ".join(op.value for op in OPERATIONS) + " |",
        "|---|---|" + "---|" * len(OPERATIONS),
    ]
    for model in catalog.MODELS.values():
        marks = " | ".join("✓" if op in model.operations else "" for op in OPERATIONS)
        lines.append(f"| `{model.id}` | {model.provider} | {marks} |")
    return "\n".join(lines)


def _or(values: tuple) -> str:
    return " or ".join(str(v) for v in values)


def ratio_text(ratio: float) -> str:
    return f"1:{ratio:g} to {ratio:g}:1"


def size_rule_text(rule: SizeRule) -> str:
    """The free-size rule in words: step, edges, pixel bounds and aspect ratio."""
    parts = [f"both sides multiples of {rule.step}" if rule.step > 1 else "any whole-pixel sides"]
    # An edge bound the pixel bound already implies (Stability's 9,437,184 px over 64 px) is left out.
    edge_implied = rule.max_pixels and rule.max_edge * rule.min_edge >= rule.max_pixels
    if rule.min_edge > 1 and not edge_implied:
        parts.append(f"{rule.min_edge}–{rule.max_edge} px a side")
    elif rule.min_edge > 1:
        parts.append(f"at least {rule.min_edge} px a side")
    elif not edge_implied:
        parts.append(f"at most {rule.max_edge} px a side")
    if rule.min_pixels and rule.max_pixels:
        parts.append(f"{rule.min_pixels:,}–{rule.max_pixels:,} pixels")
    elif rule.max_pixels:
        parts.append(f"at most {rule.max_pixels:,} pixels")
    elif rule.min_pixels:
        parts.append(f"at least {rule.min_pixels:,} pixels")
    if rule.max_ratio:
        parts.append(f"aspect ratio from {ratio_text(rule.max_ratio)}")
    return ", ".join(parts)


def free_sizes_text(model: Model) -> str:
    if model.size_rule is None:
        return "—"
    scope = "generations and edits" if model.free_generate else "inputs of edits (generations use the presets)"
    if model.size_rule.source:
        basis = f" ({model.size_rule.source})"
    elif model.provider != "offline":
        basis = " (Atelier's own bound: the provider documents no input size limit)"
    else:
        basis = ""
    return f"{size_rule_text(model.size_rule)}; for {scope}{basis}"


def allowed_text(option: Option) -> str:
    if option.kind == OptionKind.CHOICE:
        blank = ", or blank (the provider's default)" if option.optional else ""
        return ", ".join(f"`{c}`" for c in option.choices) + blank
    if option.kind == OptionKind.BOOL:
        return "on, off"
    return f"{option.min:g}–{option.max:g}" + (" (whole numbers)" if option.kind == OptionKind.INT else "")


def default_text(option: Option) -> str:
    if option.default is None:
        return "provider's own"
    if option.kind == OptionKind.BOOL:
        return "on" if option.default else "off"
    return f"`{option.default}`"


def condition_text(option: Option) -> str:
    parts = []
    if option.operations is not None:
        parts.append(", ".join(sorted(op.value for op in option.operations)) + " only")
    if option.only_with:
        cond = option.only_with
        parts.append(f"only with `{cond.option}` {_or(cond.values)} (with another, only its default is accepted)")
    return "; ".join(parts) or "—"


def formats_text(model: Model) -> str:
    option = model.option("output_format")
    if option is None:
        return "—"
    return ", ".join(f"**{c}**" if c == option.default else c for c in option.choices)


def count_text(model: Model) -> str:
    """1–N images a request, and the operations whose endpoint makes fewer."""
    text = f"1–{model.max_n}" if model.max_n > 1 else "1"
    fewer = [f"{op.value}: {model.max_n_for(op)}" for op in OPERATIONS
             if op in model.operations and model.max_n_for(op) < model.max_n]  # fmt: skip
    return f"{text} ({'; '.join(fewer)})" if fewer else text


def negative_text(model: Model) -> str:
    """Whether the model takes a negative prompt, and the operations whose endpoint does not."""
    without = [op.value for op in OPERATIONS if op in model.operations and not model.takes_negative_prompt(op)]
    if not model.negative_prompt or not without:
        return YES_NO[model.negative_prompt]
    cited = sorted({limit.source for limit in model.limits.values() if limit.source})
    return f"yes, except for {', '.join(without)}" + (f" ({'; '.join(cited)})" if cited else "")


def seed_text(model: Model) -> str:
    return f"0–{model.seed_max:,}" if model.seed_max is not None else "not taken"


def presets_text(model: Model) -> str:
    return ", ".join(f"{s.aspect} {s.width}×{s.height}" + (f" ({s.name})" if s.name else "") for s in model.sizes)


def summary_table() -> str:
    lines = [
        "| model | presets | free sizes | output formats | qualities | max n | seed | retired |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in catalog.MODELS.values():
        free = "—" if m.size_rule is None else ("generations and edits" if m.free_generate else "edits")
        lines.append(
            f"| `{m.id}` | {len(m.sizes)} | {free} | {formats_text(m)} | {', '.join(m.qualities)} | {m.max_n} | "
            f"{seed_text(m)} | {YES_NO[m.retired]} |"
        )
    return "\n".join(lines)


def model_section(m: Model) -> list[str]:
    provider = catalog.PROVIDERS[m.provider].label
    lines = [f"### `{m.id}` — {m.label}", ""]
    if m.note:
        lines += [m.note, ""]
    facts = [
        ("Provider", provider),
        ("Operations", ", ".join(op.value for op in OPERATIONS if op in m.operations)),
        ("Size presets", presets_text(m)),
        ("Free sizes", free_sizes_text(m)),
        ("Output formats", formats_text(m) + (" (default in bold)" if m.option("output_format") else "")),
        ("Qualities", ", ".join(f"**{q}**" if q == m.default_quality else q for q in m.qualities)),
        ("Images per request", count_text(m)),
        ("Seed", seed_text(m)),
        ("Prompt", f"up to {m.max_prompt_chars:,} characters; negative prompt: {negative_text(m)}"),
    ]
    if m.upscale:
        up = m.upscale
        factors = " or ".join(f"{f}×" for f in up.factors)
        output = f"{up.max_output_edge} px a side"
        if up.max_output_pixels:
            output += f" and {up.max_output_pixels:,} pixels"
        cited = f" ({up.source})" if up.source else ""
        facts.append(("Upscale", f"{factors}; input at most {up.max_input_pixels:,} pixels; output at most "
                                 f"{output}{cited}"))  # fmt: skip
    if m.control_kinds:
        facts.append(("Control follows", ", ".join(m.control_kinds)))
    if m.max_references:
        facts.append(("Reference images", f"up to {m.max_references} beside the edited image"))
    if m.grid_actions:
        facts.append(("Grid actions", "U1–U4 and V1–V4 on its own grids, as follow-up jobs"))
    facts.append(("Retired", "yes — gone from the vendor's API; for compatible servers only" if m.retired else "no"))
    facts.append(("Price", price_text(m)))
    if m.pricing:
        facts.append(("Price source", f"{m.pricing.source} (read {m.pricing.checked})"))
    lines += ["| | |", "|---|---|", *[f"| {name} | {value} |" for name, value in facts], ""]
    if m.options:
        lines += [
            "| option | type | allowed | default | applies |",
            "|---|---|---|---|---|",
            *[
                f"| `{o.name}` | {o.kind.value} | {allowed_text(o)} | {default_text(o)} | {condition_text(o)} |"
                for o in m.options
            ],
            "",
        ]
    if m.rules:
        lines += ["Rules between options:", ""]
        for rule in m.rules:
            cited = f" ({rule.source})" if rule.source else ""
            lines.append(f"- `{rule.option}` {_or(rule.values)} needs `{rule.needs.option}` "
                         f"{_or(rule.needs.values)}{cited}")  # fmt: skip
        lines.append("")
    sources = "; ".join(m.sources) if m.sources else "Atelier's own renderer"
    lines += [f"Sources: {sources}.", ""]
    return lines


def _usd(value: Decimal) -> str:
    return f"${value.normalize():f}"


def price_text(m: Model) -> str:
    """How the model is billed and at what figures, in words."""
    p = m.pricing
    if p is None:
        return "unknown"
    if p.per_job is not None:
        return f"{_usd(p.per_job)} a job (MIDJOURNEY_USD_PER_JOB); {p.note}"
    if p.credits:
        credits = ", ".join(f"{op.value} {n.normalize():f}" for op, n in p.credits.items())
        return f"credits per image: {credits}; {_usd(p.usd_per_credit)} a credit. {p.note}"
    per_image = ", ".join(f"{key} {_usd(value)}" for key, value in p.per_image.items())
    text = f"USD per image: {per_image}"
    if p.tokens:
        t = p.tokens
        rates = f"text in {_usd(t.text_input)}, image in {_usd(t.image_input)}, image out {_usd(t.image_output)}"
        if t.text_output:
            rates += f", text out {_usd(t.text_output)}"
        text = f"USD per million tokens: {rates}. {text}"
    return f"{text}. {p.note}".strip() if p.note else text


def prices_table() -> str:
    """Every model's billing unit, source and date, as a Markdown table."""
    lines = ["| model | billed by | source | read |", "|---|---|---|---|"]
    for m in catalog.MODELS.values():
        p = m.pricing
        if p is None:
            lines.append(f"| `{m.id}` | unknown | | |")
            continue
        if p.per_job is not None:
            unit = "a plan rate per job"
        elif p.credits:
            unit = "credits per image, by operation"
        elif p.tokens:
            unit = "tokens (the answer's usage)"
        else:
            unit = "output image" if any(p.per_image.values()) else "free"
        lines.append(f"| `{m.id}` | {unit} | {p.source} | {p.checked} |")
    return "\n".join(lines)


def render() -> str:
    lines = [
        "# Models",
        "",
        "Generated from `studio/catalog.py` by `python manage.py catalog_docs > docs/models.md`; a test fails",
        "when this file and the catalog disagree. Every constraint here is enforced by the one request",
        "validator (`studio/specs.py`) for the studio form, the editor, the JSON API, the CLI and comparisons.",
        "Whether a model is usable depends on its provider being implemented and configured: see the",
        "README's status section.",
        "",
        "## Operations",
        "",
        operations_table(),
        "",
        "## Constraints at a glance",
        "",
        "Presets are the sizes a generation picks from by aspect ratio. Free sizes follow a rule (below, per",
        "model): for generations where the model takes any size, else for the inputs of edits, which are",
        "fitted to the closest accepted size. Edits of models without a rule are fitted to the nearest preset.",
        "",
        summary_table(),
        "",
        "## Prices",
        "",
        "How each model is billed, and where and when its figures were read (each model's section has the",
        "figures). A job's cost is recorded from the provider's own figures where it gives them (GPT Image's",
        "token usage), else from these prices for what came back; budgets use the same prices before the call.",
        "The figures were recorded on the date shown from stored copies of the source pages or of guides",
        "quoting them, not re-checked live; prices change, so check the source before relying on one.",
        "",
        prices_table(),
        "",
        "## Each model",
        "",
    ]
    for model in catalog.MODELS.values():
        lines += model_section(model)
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the model catalog as Markdown (docs/models.md)."

    def handle(self, *args, **options):
        self.stdout.write(render(), ending="")
