"""The ``README.md`` model card that ``save_pretrained`` writes beside the weights."""

from __future__ import annotations

from typing import Any

__all__ = ["model_card"]


def _f(v: Any, digits: int = 4) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _metrics_table(report: dict[str, Any]) -> list[str]:
    m, r, h = report.get("model", {}), report.get("random", {}), report.get("raters", {})
    k, a = report.get("kappa", {}), report.get("alpha", {})
    meta = report.get("meta", {})
    ci = m.get("spearman_ci") or [None, None]
    mw = k.get("mann_whitney", {})
    verdict = {True: "yes", False: "no"}.get(mw.get("could_be_annotator"), "–")
    lines = [
        "## Agreement with human ratings (test split)",
        "",
        f"{meta.get('n_images', '?')} images rated by {meta.get('n_raters', '?')} raters; the protocol of "
        "EmoNet-Face (arXiv 2505.20033), computed by `emozoo.metrics.agreement_report`.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| mean Spearman ρ vs rater median | {_f(m.get('mean_spearman'))} (95% CI {_f(ci[0], 3)}–{_f(ci[1], 3)}) |",
        f"| random baseline ρ | {_f(r.get('mean_spearman'))} |",
        f"| raters' leave-one-out ρ | {_f(h.get('loo_mean_spearman'))} |",
        f"| weighted κ model–human | {_f(k.get('model_human', {}).get('mean'))} |",
        f"| weighted κ human–human | {_f(k.get('human_human', {}).get('mean'))} |",
        f"| could be an annotator (Mann–Whitney p > 0.05) | {verdict} (p = {_f(mw.get('p_value'), 3)}) |",
        f"| Krippendorff's α (humans, interval) | {_f(a.get('mean'))} |",
        "",
    ]
    return lines


def model_card(config: dict[str, Any], report: dict[str, Any] | None, experiment: str | None) -> str:
    """Markdown for a model folder: what it is, how to load it, its preprocessing and its agreement metrics."""
    mc = config["model"]
    pp = config.get("preprocessing")
    lines = [
        f"# emozoo model: {mc.get('backbone') or 'embeddings'} + {mc.get('head')}",
        "",
        "Fine-grained facial emotion recognition on the 40 EmoNet-Face emotions (arXiv 2505.20033), "
        f"taxonomy `{config.get('taxonomy_version')}`, emozoo {config.get('emozoo_version')}.",
        "",
        "```python",
        "import emozoo",
        "model = emozoo.load_model('PATH_OR_hf-hub:ORG/NAME')",
        "out = model(model.transform()(pil_image)[None])  # intensity (0-7) and distribution over the 40",
        "```",
        "",
        "```bash",
        "emozoo predict images/ --model PATH_OR_hf-hub:ORG/NAME --out predictions.jsonl",
        "```",
        "",
    ]
    if pp:
        size = "x".join(str(s) for s in pp["input_size"][1:])
        lines += [
            f"Input: {size}, {pp['crop_mode']} resize ({pp['interpolation']}), mean {list(pp['mean'])}, "
            f"std {list(pp['std'])}.",
            "",
        ]
    if experiment:
        lines += [f"Trained with experiment `{experiment}`.", ""]
    if report:
        lines += _metrics_table(report)
    return "\n".join(lines)
