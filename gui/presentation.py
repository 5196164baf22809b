"""How a result looks, the same in every view: stage colours, status styles, labels, explanations.

Background colour says which stage proposed a code; the underline or strike
says where review stands (MedCATtrainer's lesson: status must be visible at a
glance); a line over the words and brown letters mark an ICD-O-3 morphology
mention, so it stands apart from the ICD-10 mention of the same words.  The legend and the help dialog are built from these same tables.
"""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QColor, QFont, QTextCharFormat
from PySide6.QtWidgets import QHeaderView

from engine.core.codes import Edition
from engine.core.model import Assignment, ReviewStatus, Stage
from engine.linking.explain import explain
from engine.linking.specificity import REASON as SPECIFICITY
from engine.records.session import DocumentState

__all__ = [
    "MORPHOLOGY_COLOR",
    "STAGE_COLORS",
    "STAGE_LABELS",
    "STATE_COLORS",
    "STATUS_LABELS",
    "describe",
    "fixed_widths",
    "is_morphology_mention",
    "legend_html",
    "legend_items",
    "mention_format",
    "stage_color",
    "stage_label",
    "status_color",
]

STAGE_LABELS = {
    Stage.SITE: "Site",
    Stage.DICTIONARY: "Dictionary",
    Stage.FUZZY: "Fuzzy",
    Stage.LLM: "LLM",
    Stage.USER: "Coder",
}
_NO_CODE = "#e0e0e0"  # a mention nothing could be proposed for
STAGE_COLORS = {
    Stage.SITE: "#b8ece4",  # teal: what this workstation's coders decided
    Stage.DICTIONARY: "#cfe2ff",
    Stage.FUZZY: "#ffe0b3",
    Stage.LLM: "#e8d7ff",
    Stage.USER: "#ccefcc",
}
STATUS_LABELS = {
    ReviewStatus.PENDING: "pending",
    ReviewStatus.NEEDS_REVIEW: "needs review",
    ReviewStatus.ACCEPTED: "accepted",
    ReviewStatus.REJECTED: "rejected",
    ReviewStatus.CORRECTED: "corrected",
}
_STATUS_COLORS = {
    ReviewStatus.PENDING: "#616161",
    ReviewStatus.NEEDS_REVIEW: "#c62828",
    ReviewStatus.ACCEPTED: "#2e7d32",
    ReviewStatus.REJECTED: "#757575",
    ReviewStatus.CORRECTED: "#2e7d32",
}
_UNDERLINES = {
    ReviewStatus.PENDING: QTextCharFormat.UnderlineStyle.DotLine,
    ReviewStatus.NEEDS_REVIEW: QTextCharFormat.UnderlineStyle.WaveUnderline,
}
MORPHOLOGY_COLOR = "#8d3a00"  # the letters of an ICD-O-3 mention (with a line over them)
STATE_COLORS = {  # "coded" is work to do, not a warning; what needs the coder's eye is orange or red
    DocumentState.NEW: "#616161",
    DocumentState.CODING: "#6a1b9a",
    DocumentState.CODED: "#1565c0",
    DocumentState.NO_MENTIONS: "#e65100",
    DocumentState.REVIEWED: "#2e7d32",
    DocumentState.ERROR: "#c62828",
}


def stage_color(stage: Stage | None) -> QColor:
    return QColor(STAGE_COLORS.get(stage, _NO_CODE) if stage else _NO_CODE)


def status_color(status: ReviewStatus) -> QColor:
    return QColor(_STATUS_COLORS[status])


def stage_label(stage: Stage | None) -> str:
    return STAGE_LABELS[stage] if stage else "no code"


def mention_format(stage: Stage | None, status: ReviewStatus, current: bool = False,
                   morphology: bool = False) -> QTextCharFormat:
    """Background = stage; dotted underline = pending, red wave = needs review,
    solid green underline = accepted or corrected, struck through and grey = rejected;
    ``morphology`` (an ICD-O-3 mention): a line over the words, brown letters."""
    fmt = QTextCharFormat()
    if morphology:
        fmt.setFontOverline(True)
        fmt.setForeground(QColor(MORPHOLOGY_COLOR))
    background = stage_color(stage)
    if status is ReviewStatus.REJECTED:
        background = QColor("#eeeeee")
        fmt.setFontStrikeOut(True)
        fmt.setForeground(QColor("#757575"))
    else:
        fmt.setUnderlineStyle(_UNDERLINES.get(status, QTextCharFormat.UnderlineStyle.SingleUnderline))
        fmt.setUnderlineColor(status_color(status))
    if current:
        background = background.darker(135)
        fmt.setFontWeight(QFont.Weight.DemiBold)
    fmt.setBackground(background)
    return fmt


def describe(assignment: Assignment, language: str = "", candidates: bool = True) -> str:
    """Rich text: what was proposed, by which stage, with what score and evidence, and why;
    the candidates ranked with the score each has (left out where a candidate list shows them).
    ``language`` is the document's, which names the edition: CIE-10-ES for CM codes in Spanish."""
    a = assignment
    explanation = explain(a)
    code = escape(a.code) if a.code else "<i>no code</i>"
    lines = [
        f"<b>{code}</b> {escape(a.title)}",
        f"<i>“{escape(a.mention.text)}”</i> · {a.edition.label_in(language)}",
        (
            f"Stage: <span style='background-color:{stage_color(a.stage).name()}'>"
            f"&nbsp;{stage_label(a.stage)}&nbsp;</span> · score {a.score:.2f} · "
            f"<span style='color:{_STATUS_COLORS[a.status]}'>{STATUS_LABELS[a.status]}</span>"
        ),
    ]
    lines.append(f"Why: {escape(explanation.why)}")
    if a.evidence:
        lines.append(f"Evidence: {escape(a.evidence)}")
    provenance = a.provenance
    if "site_conflict" in provenance:
        given = ", ".join(f"{escape(str(code))} ×{n}" for code, n in dict(provenance["site_conflict"]).items())
        lines.append(f"This site's coders disagree on this term: {given}; choose the code for this mention.")
    if SPECIFICITY in provenance:  # why this code and not the category a stage proposed
        lines.append(f"<span style='color:{_STATUS_COLORS[ReviewStatus.NEEDS_REVIEW]}'>"
                     f"{escape(str(provenance[SPECIFICITY]))}</span>")
    if "negated_by" in provenance:
        lines.append(f"Possibly negated by “{escape(str(provenance['negated_by']))}”")
    if "llm_answer" in provenance:
        shown = ", ".join(map(str, provenance.get("candidates_shown", [])))
        lines.append(
            f"Model {escape(str(provenance.get('model', '')))} answered "
            f"<b>{escape(str(provenance['llm_answer']))}</b> from: {escape(shown)}"
        )
    if "proposed" in provenance:
        proposed = provenance["proposed"]
        before = f"{escape(str(proposed.get('code')))} ({proposed.get('stage')})"
        lines.append(f"Proposed before correction: {before}")
    if candidates and explanation.candidates:
        rows = "".join(
            f"<tr><td>{'<b>' if r.chosen else ''}{escape(r.candidate.code)}{'</b>' if r.chosen else ''}</td>"
            f"<td>{escape(r.candidate.title)}</td><td>{escape(r.reason)}</td></tr>"
            for r in explanation.candidates[:8]
        )
        lines.append(f"Candidates:<table cellspacing='0' cellpadding='3'>{rows}</table>")
    return "<br>".join(lines)


def legend_items() -> list[tuple[str, QTextCharFormat]]:
    """The legend as the text view draws it: each stage's colour, then each status's style."""
    stages = []
    for stage in STAGE_COLORS:
        fmt = QTextCharFormat()
        fmt.setBackground(stage_color(stage))
        stages.append((STAGE_LABELS[stage], fmt))
    statuses = [
        (STATUS_LABELS[status], mention_format(Stage.DICTIONARY, status))
        for status in (ReviewStatus.PENDING, ReviewStatus.NEEDS_REVIEW, ReviewStatus.ACCEPTED,
                       ReviewStatus.REJECTED)
    ]
    return stages + statuses + [("ICD-O-3", mention_format(Stage.DICTIONARY, ReviewStatus.PENDING, morphology=True))]


def is_morphology_mention(assignment: Assignment) -> bool:
    """An ICD-O-3 morphology mention, drawn apart from ICD-10 ones."""
    return assignment.edition is Edition.ICDO3


def legend_html() -> str:
    """The legend for rich text (the help page), which cannot draw wavy or dotted underlines."""
    stages = " ".join(
        f"<span style='background-color:{color}'>&nbsp;{STAGE_LABELS[stage]}&nbsp;</span>"
        for stage, color in STAGE_COLORS.items()
    )
    return (
        f"Background colour: the stage that proposed the code: {stages} (<i>Site</i>: what this "
        "workstation's coders decided for the term before).<br>"
        "Underline: the review status: dotted grey = pending, wavy red = needs review (the model's "
        "or a fuzzy choice, or a possibly negated finding), solid green = accepted or corrected; "
        "<span style='text-decoration:line-through;color:#757575'>struck through</span> = rejected.<br>"
        f"<span style='text-decoration:overline;color:{MORPHOLOGY_COLOR}'>A line over brown words</span>: an "
        "ICD-O-3 morphology mention (the setting <i>Also code ICD-O-3 morphology</i>)."
    )


def fixed_widths(header: QHeaderView, samples: dict[int, str]) -> None:
    """Columns as wide as their widest expected text, fixed: resizing to contents would
    measure every row again on each change, which is slow while results stream in."""
    metrics = header.fontMetrics()
    for column, sample in samples.items():
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(column, metrics.horizontalAdvance(sample) + 16)
