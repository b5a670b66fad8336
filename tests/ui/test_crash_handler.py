import sys

import pytest


@pytest.mark.gui
def test_unexpected_error_writes_a_crash_report_and_names_it(make_window, tmp_path, monkeypatch):
    from app.ui import launch

    window = make_window()
    shown = []
    monkeypatch.setattr(window, "show_error", lambda title, text, details=None: shown.append((title, text)))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    launch._install_excepthook(window)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    reports = list((tmp_path / "logs").glob("crash-*.log"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "RuntimeError: boom in a slot" in text and "VASA-Rig Studio" in text
    assert shown and str(reports[0]) in shown[0][1]
