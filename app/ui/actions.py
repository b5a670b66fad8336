"""Menus, toolbar and keyboard shortcuts of the main window (DCC conventions: Space, J/K/L, I/O, F, arrows)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar

from app.core.keys import Interp


def _action(window, text: str, slot, shortcut=None, tip: str | None = None, checkable: bool = False,
            context=Qt.WindowShortcut) -> QAction:
    act = QAction(text, window)
    if shortcut is not None:
        act.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        act.setShortcutContext(context)
    if tip:
        act.setToolTip(tip)
        act.setStatusTip(tip)
    act.setCheckable(checkable)
    act.triggered.connect(slot)
    window.addAction(act)
    return act


def install(w) -> None:
    files, pb, ctx = w.files, w.playback, w.context
    menu = w.menuBar()

    # --- File ---
    m = menu.addMenu("&File")
    w.act_open = _action(w, "&Open…", files.open_dialog, QKeySequence.Open, "Open audio, a project or animation")
    m.addAction(w.act_open)
    w.recent_menu = m.addMenu("Open &recent")
    w.act_open_example = _action(w, "Open example take", lambda: files.confirm_discard("opening the example")
                                 and files.open_example())
    m.addAction(w.act_open_example)
    m.addSeparator()
    w.act_save = _action(w, "&Save", files.save, QKeySequence.Save, "Save the project (.vrig)")
    w.act_save_as = _action(w, "Save &as…", lambda: files.save_as(), QKeySequence.SaveAs)
    w.act_export = _action(w, "&Export…", files.export_dialog, "Ctrl+E", "Export FBX, CSV, txt or JSON")
    for a in (w.act_save, w.act_save_as, w.act_export):
        m.addAction(a)
    m.addSeparator()
    m.addAction(_action(w, "&Quit", w.close, QKeySequence.Quit))

    # --- Edit ---
    m = menu.addMenu("&Edit")
    w.act_undo = _action(w, "Undo", lambda: w.document.history and w.document.history.undo(), QKeySequence.Undo)
    w.act_redo = _action(w, "Redo", lambda: w.document.history and w.document.history.redo(),
                         [QKeySequence.Redo, QKeySequence("Ctrl+Shift+Z")])
    w.act_copy = _action(w, "Copy keys", w.copy_keys, QKeySequence.Copy)
    w.act_paste = _action(w, "Paste keys at playhead", w.paste_keys, QKeySequence.Paste)
    w.act_delete = _action(w, "Delete keys", w.delete_selection, [QKeySequence.Delete, QKeySequence("Backspace")])
    w.act_select_all = _action(w, "Select all keys", lambda: w.current_editor().select_all_keys(),
                               QKeySequence.SelectAll)
    for a in (w.act_undo, w.act_redo, None, w.act_copy, w.act_paste, w.act_delete, w.act_select_all, None):
        m.addSeparator() if a is None else m.addAction(a)
    w.act_scale = _action(w, "Scale / offset selection…", w.scale_offset_dialog, "S",
                          "Scale the selected keys about their mean and add an offset")
    w.act_smooth = _action(w, "Smooth selection", lambda: w.current_editor().smooth_selected(), "Shift+S",
                           "Pull the selected keys towards their neighbours")
    w.act_reset = _action(w, "Reset to generated", lambda: w.current_editor().reset_to_generated(), None,
                          "Remove your keys from the selected channels (or the whole region)")
    w.act_lock = _action(w, "Lock range", lambda: w.lock_range(True), "Ctrl+L",
                         "Keep this region's curves in the loop range (or the selected keys' frames) when "
                         "regenerating")
    w.act_unlock = _action(w, "Unlock range", lambda: w.lock_range(False), "Ctrl+Shift+L")
    for a in (w.act_scale, w.act_smooth, w.act_reset, None, w.act_lock, w.act_unlock):
        m.addSeparator() if a is None else m.addAction(a)
    interp = m.addMenu("Key interpolation")
    for label, mode in (("Smooth", Interp.SMOOTH), ("Linear", Interp.LINEAR), ("Step", Interp.STEP)):
        interp.addAction(_action(w, label, lambda _=False, md=mode: w.current_editor().set_interpolation(md)))

    # --- Playback ---
    m = menu.addMenu("&Playback")
    w.act_play = _action(w, "Play / pause", pb.toggle, "Space", "Play or pause (Space)", checkable=True)
    w.act_stop = _action(w, "Stop", pb.stop, "Escape", "Stop and return to where playback started")
    w.act_j = _action(w, "Shuttle back (J)", lambda: pb.shuttle(-1), "J")
    w.act_k = _action(w, "Pause (K)", lambda: pb.shuttle(0), "K")
    w.act_l = _action(w, "Shuttle forward (L)", lambda: pb.shuttle(1), "L")
    w.act_prev = _action(w, "Previous frame", lambda: pb.step(-1), [QKeySequence("Left"), QKeySequence(",")])
    w.act_next = _action(w, "Next frame", lambda: pb.step(1), [QKeySequence("Right"), QKeySequence(".")])
    w.act_prev10 = _action(w, "Back 10 frames", lambda: pb.step(-10), "Shift+Left")
    w.act_next10 = _action(w, "Forward 10 frames", lambda: pb.step(10), "Shift+Right")
    w.act_home = _action(w, "Go to start", lambda: ctx.set_frame(ctx.play_range()[0]), "Home")
    w.act_end = _action(w, "Go to end", lambda: ctx.set_frame(ctx.play_range()[1]), "End")
    w.act_loop = _action(w, "Loop range", lambda on: ctx.set_loop(ctx.loop_start, ctx.loop_end, enabled=on), "Ctrl+R",
                         "Loop playback over the range on the ruler", checkable=True)
    w.act_in = _action(w, "Set loop in", lambda: w.set_loop_point("in"), "I")
    w.act_out = _action(w, "Set loop out", lambda: w.set_loop_point("out"), "O")
    for a in (w.act_play, w.act_stop, w.act_j, w.act_k, w.act_l, None, w.act_prev, w.act_next, w.act_prev10,
              w.act_next10, w.act_home, w.act_end, None, w.act_loop, w.act_in, w.act_out):
        m.addSeparator() if a is None else m.addAction(a)

    # --- Generate ---
    m = menu.addMenu("&Generate")
    w.act_generate = _action(w, "Regenerate", lambda: w.generate(immediate=True), "Ctrl+G",
                             "Regenerate with the current controls (locked ranges are kept)")
    w.act_new_take = _action(w, "New take", w.controls.new_take.click, "Ctrl+Shift+G")
    w.act_cancel = _action(w, "Cancel generation", w.cancel_generation, "Ctrl+.")
    w.act_live = _action(w, "Go live…", lambda: (w.live_dock.show(), w.live_dock.raise_()), "F9",
                         "Animate a live voice (microphone or a file played in real time) and stream it to Unreal")
    for a in (w.act_generate, w.act_new_take, w.act_cancel, None, w.act_live):
        m.addSeparator() if a is None else m.addAction(a)

    # --- View ---
    m = menu.addMenu("&View")
    w.act_frame_all = _action(w, "Frame all", ctx.frame_all, "F", "Show the whole take")
    w.act_zoom_in = _action(w, "Zoom in", lambda: ctx.zoom(1.5), [QKeySequence("="), QKeySequence("+")])
    w.act_zoom_out = _action(w, "Zoom out", lambda: ctx.zoom(1 / 1.5), "-")
    for a in (w.act_frame_all, w.act_zoom_in, w.act_zoom_out):
        m.addAction(a)
    m.addSeparator()
    for dock in (w.preview_dock, w.controls_dock, w.livelink_dock, w.live_dock, w.log_dock):
        m.addAction(dock.toggleViewAction())

    # --- toolbars ---
    tb = QToolBar("File")
    tb.setObjectName("fileToolbar")
    tb.setMovable(False)
    for a in (w.act_open, w.act_save, w.act_export, None, w.act_undo, w.act_redo):
        tb.addSeparator() if a is None else tb.addAction(a)
    w.addToolBar(tb)
    tb = QToolBar("Transport")
    tb.setObjectName("transportToolbar")
    tb.setMovable(False)
    w.act_play.setText("▶ Play")
    w.act_stop.setText("■ Stop")
    for a in (w.act_home, w.act_prev, w.act_play, w.act_stop, w.act_next, w.act_end, w.act_loop):
        tb.addAction(a)
    w.act_home.setText("◀◀")
    w.act_end.setText("▶▶")
    w.act_prev.setText("◀|")
    w.act_next.setText("|▶")
    w.act_loop.setText("⟲ Loop")
    w.addToolBar(tb)
    tb = QToolBar("Keys")
    tb.setObjectName("keysToolbar")
    tb.setMovable(False)
    for a in (w.act_scale, w.act_smooth, w.act_reset, w.act_lock, w.act_unlock, None, w.act_generate,
              w.act_frame_all):
        tb.addSeparator() if a is None else tb.addAction(a)
    w.addToolBar(tb)

    def refresh_recent_menu() -> None:
        w.recent_menu.clear()
        recent = w.settings.recent_files()
        for path in recent:
            act = w.recent_menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.triggered.connect(lambda _=False, p=path: files.open_path(p))
        w.recent_menu.setEnabled(bool(recent))

    w.refresh_recent_menu = refresh_recent_menu
    refresh_recent_menu()
