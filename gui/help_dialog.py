"""F1: the keyboard shortcuts, the colour legend and the review workflow on one page.

The shortcut table is read from the window's own actions, so it cannot drift
from what the keys really do.
"""

from __future__ import annotations

from html import escape

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from gui.presentation import legend_html

__all__ = ["HelpDialog", "help_html"]

_WORKFLOW = """
<ol>
<li>Open documents (<i>File → Open</i>, or drop files or folders on the window). The list sorts by
any column and filters by queue (to review, open mentions, no mentions found, errors…), language
and the words of a file name.</li>
<li>Code them: dictionary results appear at once; with a language model chosen, its answers
fill in mention by mention.</li>
<li>Review every mention: accept, reject, change its code or delete it; select missed words
in the text (or find them with Ctrl+F) and add them as a mention. A document is <b>reviewed</b>
once every mention has a status; one in which nothing was found is <b>no mentions found</b> until
you have read it and confirmed there is nothing to code (Ctrl+Return). After a document's last
decision the next one to review opens; N goes to the next open mention, across documents.</li>
<li>Export the current document or all of them as CSV or JSON.</li>
</ol>
<p>Your work is saved automatically every few seconds and when you close the window;
it is restored at the next start.</p>
"""


def help_html(sections: list[tuple[str, list[QAction]]]) -> str:
    """The help page for these groups of actions (only those with a shortcut are listed)."""
    parts = ["<h3>Keyboard</h3><table cellspacing='0' cellpadding='3'>"]
    for title, actions in sections:
        rows = [
            f"<tr><td><b>{escape(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))}</b></td>"
            f"<td>{escape(a.text().replace('&', ''))}</td></tr>"
            for a in actions if not a.shortcut().isEmpty()
        ]
        if rows:
            parts.append(f"<tr><td colspan='2'><i>{escape(title)}</i></td></tr>" + "".join(rows))
    parts.append("</table>")
    parts.append(f"<h3>Colours</h3><p>{legend_html()}</p>")
    parts.append("<p>Hover over a highlight for its code, score, evidence and candidates; for the "
                 "language model, its answer and the codes it was shown.</p>")
    parts.append(f"<h3>Workflow</h3>{_WORKFLOW}")
    return "".join(parts)


class HelpDialog(QDialog):
    def __init__(self, parent: QWidget | None, sections: list[tuple[str, list[QAction]]]) -> None:
        super().__init__(parent)
        self.setWindowTitle("icdlinker help")
        self.resize(620, 640)
        self.browser = QTextBrowser()
        self.browser.setHtml(help_html(sections))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
