"""A working day in one process: thousands of review actions on a large session.

Short tests hid a crash: PySide6 6.12.0 loses a reference to ``None`` on every
Qt call that returns nothing, and on Python < 3.12 (where ``None`` is not
immortal) the process dies after ~90 review actions with "none_dealloc".  The
first test measures the leak directly; the second runs a long session in a
child process, so that such a crash fails the test instead of killing pytest.
"""

import gc
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QTableWidgetItem, QTreeWidgetItem

from tests.bounded import run_window_day

BACKGROUND = Path(__file__).resolve().parents[2] / "shared" / "data" / "codiesp" / "background" / "text_files"
DOCUMENTS = 300
ACTIONS = 5000


def test_qt_calls_that_return_nothing_do_not_leak_references_to_none(qapp) -> None:
    table_item, tree_item = QTableWidgetItem(), QTreeWidgetItem()
    gc.collect()
    before = sys.getrefcount(None)
    for i in range(1000):
        table_item.setText(str(i))
        tree_item.setText(0, str(i))
        tree_item.setToolTip(0, str(i))
    drift = sys.getrefcount(None) - before
    # Immortal None (3.12+) never moves; a sound binding moves it by a few at most either way.
    assert drift > -100, f"3,000 Qt calls lost {-drift} references to None: this PySide6 would crash"


LONG_SESSION = r"""
import gc, sys
from pathlib import Path
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from engine.linking.pipeline import Pipeline
from engine.text.readers import read_document
from engine.records.session import ReviewSession, SessionDocument
from engine.records.settings import AppSettings
from gui.app import application
from gui.main_window import MainWindow

paths, folder, actions = sorted(Path(sys.argv[1]).glob("*.txt"))[:int(sys.argv[2])], Path(sys.argv[3]), int(sys.argv[4])
app = application()
pipeline = Pipeline.bundled("es")
session = ReviewSession()
for path in paths:
    document = SessionDocument(str(path), str(path), "es")
    document.result = pipeline.code(read_document(path, "es"))
    session.documents.append(document)
window = MainWindow(session, AppSettings(), session_path=folder / "session.json")
window.show()
app.processEvents()
keys = [Qt.Key.Key_J, Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_K, Qt.Key.Key_A, Qt.Key.Key_Z]
gc.collect()
before, done, switches = sys.getrefcount(None), 0, 0
while done < actions:
    window.documents.select_key(session.documents[switches % len(session)].key)  # a full table refresh
    switches += 1
    window.pane.mentions.setFocus()
    for key in keys * 4:
        modifier = Qt.KeyboardModifier.ControlModifier if key == Qt.Key.Key_Z else Qt.KeyboardModifier.NoModifier
        QTest.keyClick(window.focusWidget(), key, modifier)
        done += 1
    app.processEvents()
gc.collect()
reviewed = sum(a.status.value != "pending" for d in session for a in (d.result.assignments if d.result else ()))
print(f"{done} actions, {switches} document switches, {reviewed} decisions, "
      f"refcount(None) {before} -> {sys.getrefcount(None)}", flush=True)
window.close()
"""


@pytest.mark.skipif(not BACKGROUND.is_dir(), reason=f"needs the CodiEsp background documents in {BACKGROUND}")
def test_thousands_of_review_actions_on_a_large_session_in_one_process(tmp_path: Path, user_dirs: Path) -> None:
    done = run_window_day(tmp_path, LONG_SESSION, str(BACKGROUND), str(DOCUMENTS), str(tmp_path), str(ACTIONS),
                          timeout_s=600)
    print(done.stdout)
    summary = done.stdout.split()
    assert int(summary[0]) >= ACTIONS
    before, after = int(summary[-3]), int(summary[-1])
    assert after - before > -1000, f"the session lost {before - after} references to None"
