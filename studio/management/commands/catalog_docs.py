"""Print docs/models.md: the catalog as Markdown tables, so the docs never drift from the data."""

from django.core.management.base import BaseCommand

from studio import catalog

OPERATIONS = list(catalog.Operation)


def option_text(option: catalog.Option) -> str:
    if option.kind == "choice":
        allowed = "/".join(option.choices) if len(option.choices) <= 4 else f"{len(option.choices)} choices"
        return f"`{option.name}` ({allowed})"
    if option.kind == "bool":
        return f"`{option.name}` (on/off)"
    return f"`{option.name}` ({option.min:g}–{option.max:g})"


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


def render() -> str:
    lines = [
        "# Models",
        "",
        "Generated from `studio/catalog.py` by `python manage.py catalog_docs > docs/models.md`; a test fails",
        "when this file and the catalog disagree. Whether a model is usable depends on its provider",
        "being implemented and configured: see the README's status section.",
        "",
        "## Operations",
        "",
        operations_table(),
    ]
    lines += [
        "",
        "## Sizes, qualities and options",
        "",
        "| model | sizes (aspect · W×H) | qualities | max n | negative prompt | seed | options | USD per image |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in catalog.MODELS.values():
        sizes = ", ".join(f"{s.aspect} {s.value}" for s in model.sizes)
        options = ", ".join(option_text(o) for o in model.options) or "—"
        prices = ", ".join(f"{k} ${v}" for k, v in model.prices.items()) or "unknown"
        yes = {True: "yes", False: "no"}
        lines.append(
            f"| `{model.id}` {model.label} | {sizes} | {'/'.join(model.qualities)} | {model.max_n} | "
            f"{yes[model.negative_prompt]} | {yes[model.seed]} | {options} | {prices} |"
        )
    notes = [f"- `{m.id}`: {m.note}" for m in catalog.MODELS.values() if m.note]
    lines += ["", "## Notes", "", *notes, ""]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the model catalog as Markdown (docs/models.md)."

    def handle(self, *args, **options):
        self.stdout.write(render(), ending="")
