"""Opening, saving, exporting, recent files, the unsaved-changes prompt and crash recovery.

Reading audio (decode + resample) runs in the worker process (app.engines.runner), waited on by a worker thread, and
exports run in worker threads; project files are small and are read and written on the GUI thread (atomically, by
app.core.project). A project opens at once and its audio follows when it has been read.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.core.paths import resources_dir
from app.core.project import PROJECT_SUFFIX, ProjectFileError, load_project, save_project
from app.core.settings import GenerationInputs, GenerationSettings
from app.core.take import GenerationMeta, Take
from app.core.timebase import FPS, frames_for_duration
from app.engines.runner import LoadAudio, shared_runner
from app.io.export import ExportError, ExportOptions, read_take, write_take
from app.ui.export_dialog import ExportDialog
from app.ui.jobs import FunctionJob
from app.ui.log_panel import log

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3")
IMPORT_SUFFIXES = (".fbx", ".csv", ".txt", ".json")
OPEN_FILTER = ("Everything we open (*.wav *.flac *.ogg *.aif *.aiff *.mp3 *.vrig *.fbx *.csv *.txt *.json);;"
               "Audio (*.wav *.flac *.ogg *.aif *.aiff *.mp3);;Projects (*.vrig);;"
               "Animation (*.fbx *.csv *.txt *.json)")


def example_clip() -> tuple[Path, str | None]:
    folder = resources_dir() / "examples"
    wav = folder / "example_dialogue.wav"
    txt = folder / "example_dialogue.txt"
    return wav, (txt.read_text(encoding="utf-8").strip() if txt.exists() else None)


class FileActions(QObject):
    opened = Signal(str)
    saved = Signal(str)
    exported = Signal(str)
    export_failed = Signal(str)

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self._jobs: list[FunctionJob] = []

    @property
    def document(self):
        return self.w.document

    # --- open ---------------------------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        if not self.confirm_discard("opening another file"):
            return
        path, _ = QFileDialog.getOpenFileName(self.w, "Open", self.w.settings.last_folder("open"), OPEN_FILTER)
        if path:
            self.open_path(path, confirmed=True)

    def open_path(self, path: str | Path, *, transcript: str | None = None, confirmed: bool = False) -> bool:
        path = Path(path)
        suffix = path.suffix.lower()
        if not confirmed and not self.confirm_discard("opening another file"):
            return False
        if not path.exists():
            self.w.show_error("Cannot open", f"File not found:\n{path}")
            return False
        self.w.settings.set_last_folder("open", path)
        if suffix in AUDIO_SUFFIXES:
            self._open_audio(path, transcript)
        elif suffix == PROJECT_SUFFIX:
            return self._open_project(path)
        elif suffix in IMPORT_SUFFIXES:
            return self._open_animation(path)
        else:
            self.w.show_error("Cannot open", f"{path.name}: unsupported file type. Open audio "
                              f"({', '.join(AUDIO_SUFFIXES)}), a project (.vrig) or animation "
                              f"({', '.join(IMPORT_SUFFIXES)}).")
            return False
        return True

    def _run(self, fn, on_success, on_failure) -> FunctionJob:
        job = FunctionJob(lambda _p, _c: fn(), self)
        job.succeeded.connect(on_success)
        job.failed.connect(on_failure)
        job.finished.connect(lambda j=job: (self._jobs.remove(j) if j in self._jobs else None, j.deleteLater()))
        self._jobs.append(job)
        job.start()
        return job

    def wait(self, timeout_ms: int = 30000) -> None:
        for job in list(self._jobs):
            job.wait(timeout_ms)

    def _open_audio(self, path: Path, transcript: str | None) -> None:
        """Opens the recording and generates its first take. Without a given transcript, a transcript (LINE.txt)
        and phone timings (LINE.TextGrid, .lab, .phn) found beside it are used (app/io/sidecars.py)."""
        self.w.statusBar().showMessage(f"Reading {path.name}…")

        def read():
            return shared_runner().run(LoadAudio(str(path), sidecars=True))

        def loaded(result) -> None:
            clip, found = result
            text, phones_file = transcript, None
            if transcript is None:
                for why in found.skipped:
                    log.warning("Not using %s", why)
                if found.transcript_path is not None:
                    text = found.transcript
                    log.info("Transcript from %s", found.transcript_path.name)
                if found.phones_path is not None:
                    phones_file = str(found.phones_path)
                    log.info("Phone timings from %s", found.phones_path.name)
            n = frames_for_duration(clip.duration, FPS)
            request = GenerationSettings(inputs=GenerationInputs(transcript=text, phones_file=phones_file))
            take = Take.rest(n, fps=FPS, name=path.stem, audio=clip.ref(), meta=GenerationMeta(settings=request))
            self.document.set_take(take, clip, None)
            self._opened(path)
            self.w.generate(request, tag="initial", immediate=True)

        def failed(message: str, _details: str) -> None:
            self.w.show_error("Cannot open audio", message)
            log.error("Cannot open %s: %s", path.name, message)

        self._run(read, loaded, failed)

    def _open_project(self, path: Path) -> bool:
        try:
            take = load_project(path)
        except ProjectFileError as exc:
            self.w.show_error("Cannot open project", str(exc))
            log.error("%s", exc)
            return False
        self.document.set_take(take, None, path, saved=True)
        self._load_take_audio(take, f"Audio of {path.name}")
        self._opened(path)
        return True

    def _load_take_audio(self, take: Take, what: str) -> None:
        """Read the take's audio in the worker process and attach it when it arrives (if the take is still open);
        curves stay usable, without sound, if it cannot be read."""
        if take.audio is None:
            return
        audio = take.audio

        def loaded(clip) -> None:
            if self.document.take is not take:
                return
            if clip.sha256 != audio.sha256:
                log.warning("%s: the audio file changed since the take was made", Path(audio.path).name)
            self.document.attach_clip(clip)

        def failed(message: str, _details: str) -> None:
            log.warning("%s not available (%s); the curves open without sound", what, message)

        self._run(lambda: shared_runner().run(LoadAudio(audio.path)), loaded, failed)

    def _open_animation(self, path: Path) -> bool:
        try:
            take = read_take(path)
        except (ExportError, ValueError, OSError) as exc:
            self.w.show_error("Cannot import", f"{path.name}: {exc}")
            log.error("Cannot import %s: %s", path.name, exc)
            return False
        if take.meta.engine == "none":
            take.meta = GenerationMeta(settings=GenerationSettings(engine="import"))
        self.document.set_take(take, None, None)
        self._opened(path)
        return True

    def _opened(self, path: Path) -> None:
        self.w.settings.add_recent(path)
        self.w.refresh_recent_menu()
        log.info("Opened %s", path)
        self.w.statusBar().showMessage(f"Opened {path.name}", 4000)
        self.opened.emit(str(path))

    def open_example(self) -> bool:
        wav, transcript = example_clip()
        if not wav.exists():
            log.warning("Example clip missing: %s", wav)
            return False
        self._open_audio(wav, transcript)
        return True

    # --- save ---------------------------------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.document.take is None:
            return False
        if self.document.path is None or self.document.path.suffix.lower() != PROJECT_SUFFIX:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        if self.document.take is None:
            return False
        if path is None:
            start = str(Path(self.w.settings.last_folder("save")) / f"{self.document.take.name}{PROJECT_SUFFIX}")
            chosen, _ = QFileDialog.getSaveFileName(self.w, "Save project", start, f"Projects (*{PROJECT_SUFFIX})")
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        if path.suffix.lower() != PROJECT_SUFFIX:
            path = path.with_suffix(PROJECT_SUFFIX)
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        try:
            save_project(self.document.take, path)
        except OSError as exc:
            self.w.show_error("Cannot save", f"{path}: {exc.strerror or exc}")
            log.error("Cannot save %s: %s", path, exc)
            return False
        self.document.mark_saved(path)
        self.w.settings.set_last_folder("save", path)
        self.w.settings.add_recent(path)
        self.w.refresh_recent_menu()
        self.w.recovery.discard()
        log.info("Saved %s", path)
        self.w.statusBar().showMessage(f"Saved {path.name}", 4000)
        self.saved.emit(str(path))
        return True

    # --- export -------------------------------------------------------------------------------------------------------
    def export_dialog(self) -> ExportDialog | None:
        take = self.document.take
        if take is None:
            return None
        c = self.w.context
        dialog = ExportDialog(take.name, take.num_frames, take.fps, self.w.settings.last_folder("export"),
                              (c.loop_start, c.loop_end) if c.loop_enabled else None, self.w)
        dialog.accepted.connect(lambda: self.export_to(dialog.chosen_path(), dialog.options()))
        dialog.open()
        return dialog

    def export_to(self, path: Path, options: ExportOptions) -> None:
        take = self.document.take
        if take is None:
            return
        self.w.settings.set_last_folder("export", path)
        self.w.statusBar().showMessage(f"Exporting {path.name}…")

        def done(written) -> None:
            log.info("Exported %s", written)
            self.w.statusBar().showMessage(f"Exported {Path(written).name}", 5000)
            self.exported.emit(str(written))

        def failed(message: str, _details: str) -> None:
            self.w.show_error("Export failed", message)
            log.error("Export failed: %s", message)
            self.export_failed.emit(message)

        self._run(lambda: write_take(take, path, options), done, failed)

    # --- prompts ------------------------------------------------------------------------------------------------------
    def confirm_discard(self, reason: str) -> bool:
        """True when it is fine to drop the open take (saved, discarded, or nothing to lose)."""
        if not self.document.is_dirty:
            return True
        answer = self.w.ask("Unsaved changes", f"{self.document.display_name} has unsaved changes. Save before "
                            f"{reason}?", QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
                            QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def offer_recovery(self) -> bool:
        """After an unclean exit, offer the autosaved take. True when it was restored."""
        found = self.w.recovery.previous_crash()
        if found is None:
            return False
        name = Path(found.original_path).name if found.original_path else "an unsaved take"
        answer = self.w.ask("Restore work?", f"VASA-Rig Studio did not close normally. Restore the autosaved "
                            f"version of {name}?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        if answer != QMessageBox.Yes:
            self.w.recovery.discard()
            return False
        try:
            take = self.w.recovery.load(found)
        except ProjectFileError as exc:
            self.w.show_error("Cannot restore", str(exc))
            return False
        original = Path(found.original_path) if found.original_path else None
        self.document.set_take(take, None, original, saved=False)
        self._load_take_audio(take, "Audio of the restored take")
        log.info("Restored autosaved take %s", name)
        return True

    def acceptable_drop(self, mime) -> str | None:
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            path = url.toLocalFile()
            if path and Path(path).suffix.lower() in AUDIO_SUFFIXES + IMPORT_SUFFIXES + (PROJECT_SUFFIX,):
                return path
        return None
