"""The Gradio page (``build_app``) and its server (``launch``).

Privacy and offline use: the server listens on 127.0.0.1 unless told otherwise, never opens a public share
link, sends no analytics, and the page uses the browser's own fonts (Gradio's default theme would fetch Google
Fonts), so that starting it makes no network call.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from emozoo.app.analyse import FACE_CHOICES, analyse
from emozoo.app.models import ModelCache, model_choices
from emozoo.errors import ConfigError

__all__ = ["build_app", "default_faces", "launch"]

log = logging.getLogger("emozoo.app")

TITLE = "emozoo: 40 facial emotions"
# The largest upload the server accepts; larger images are refused by the pixel cap anyway.
MAX_FILE_SIZE = "64mb"


def _gradio():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read when gradio is imported: set it first
    try:
        import gradio as gr
    except ModuleNotFoundError as err:
        raise ConfigError("emozoo app needs gradio: pip install 'emozoo[app]'") from err
    return gr


def default_faces() -> str:
    """The faces control's first value: all faces where the detector is available, else the whole image."""
    from emozoo.inference import face_cropper

    try:
        face_cropper("all")
    except ConfigError:
        return "whole image"
    return "all faces"


def _theme(gr):
    # System fonts: the default theme's GoogleFont entries make the browser fetch fonts.googleapis.com.
    sans = [gr.themes.Font("ui-sans-serif"), gr.themes.Font("system-ui"), gr.themes.Font("sans-serif")]
    mono = [gr.themes.Font("ui-monospace"), gr.themes.Font("monospace")]
    return gr.themes.Default(font=sans, font_mono=mono)


def build_app(
    model_choices: list[str],
    default_model: str | None = None,
    *,
    cache: ModelCache | None = None,
    top_k: int = 5,
    max_pixels: int | None = None,
):
    """The page: photos in (upload or webcam), annotated photos, a table of faces and per-face charts out.

    Args:
        model_choices: the model selector's entries (names or folders; see ``emozoo.app.model_choices``).
        default_model: the one selected at first (default: the first choice).
        cache: where loaded models are kept (default: a ``ModelCache`` of 2 on ``auto``).
        top_k: the top-k control's first value.
        max_pixels: the pixel cap for uploads (default: ``$EMOZOO_MAX_PIXELS`` or 40 MP).

    Returns:
        a ``gradio.Blocks``; start it with ``.launch(...)`` or use :func:`launch`.
    """
    gr = _gradio()
    if not model_choices:
        raise ConfigError("emozoo app: no model to offer; pass --model NAME_OR_DIR (see `emozoo zoo list`)")
    cache = cache or ModelCache()
    default_model = default_model or model_choices[0]

    def run(files, webcam, model_name, faces_label, k):
        result = analyse(
            cache, model_name, files, webcam, faces=FACE_CHOICES[faces_label], top_k=int(k), max_pixels=max_pixels
        )
        return result.photos, result.message_html(), result.table_html(), (result, int(k))

    def chart(last):
        # Drawn after the table is shown: matplotlib takes longer than scoring a photo with a small model.
        result, k = last
        return None if result is None else result.chart(k)

    # delete_cache: uploaded photos (people's faces) are removed from Gradio's cache within two hours.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(f"## {TITLE}\nUpload photos or take a webcam snapshot; each face is boxed, numbered and scored.")
        with gr.Row():
            with gr.Column(scale=1):
                files = gr.File(label="photos", file_count="multiple", type="filepath", elem_id="photos")
                webcam = gr.Image(label="webcam snapshot", sources=["webcam"], type="pil", elem_id="webcam")
                model = gr.Dropdown(model_choices, value=default_model, label="model", elem_id="model")
                faces = gr.Radio(list(FACE_CHOICES), value=default_faces(), label="faces", elem_id="faces")
                k = gr.Slider(1, 10, value=top_k, step=1, label="top-k", elem_id="top-k")
                button = gr.Button("Score", variant="primary", elem_id="score")
            with gr.Column(scale=2):
                message = gr.HTML(elem_id="emozoo-message")
                gallery = gr.Gallery(
                    label="faces found", elem_id="emozoo-gallery", columns=2, height=520, object_fit="contain"
                )
                table = gr.HTML(elem_id="emozoo-table")
        plot = gr.Image(
            label="per face: intensities (sorted, top-k highlighted) and distribution",
            type="pil",
            format="png",
            interactive=False,
            elem_id="plot",
        )
        last = gr.State((None, top_k))  # this browser session's last result, for the chart
        inputs, outputs = [files, webcam, model, faces, k], [gallery, message, table, last]
        # An upload or a snapshot is answered at once; Score runs again with changed controls.
        for event in (button.click, files.upload, webcam.change):
            event(run, inputs, outputs).then(chart, last, plot)
    return app


def launch(
    model: str | Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    device: str = "auto",
    cache_size: int = 2,
    block: bool = True,
):
    """Serve the page for ``model`` (a zoo name or model folder) and the zoo models present, at ``host:port``.

    ``model`` is loaded before the server starts, so a wrong name fails here in one line. ``port`` None takes the
    first free one from 7860. ``block=False`` returns once the server runs (stop it with ``.close()``).

    Returns:
        the running ``gradio.Blocks``; its ``local_url`` is the address.
    """
    cache = ModelCache(cache_size, device)
    cache.get(str(model))
    choices = model_choices(model)
    app = build_app(choices, str(model), cache=cache)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("emozoo app: listening on %s: other machines can reach this page", host)
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        ssr_mode=False,
        max_file_size=MAX_FILE_SIZE,
        footer_links=[],
        theme=_theme(_gradio()),
        quiet=True,  # Gradio's banner suggests share=True; the address is logged below instead
    )
    log.info("emozoo app: serving %s on %s (Ctrl-C to stop)", model, app.local_url)
    if block:
        app.block_thread()
    return app
