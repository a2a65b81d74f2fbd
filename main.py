"""gnosis-ocr entry points.

functions-framework targets (deploy these names):
    ocr_on_upload   CloudEvent: google.cloud.storage.object.v1.finalized
    ocr_http        HTTP: POST /ocr, POST /jobs, GET /jobs/<id>[/result], GET /healthz, GET|POST /warmup,
                    GET / (the web page; its files under /ui/), GET /jobs/<id>/pages/<n>.png
    ocr_worker      HTTP, private (Cloud Tasks only): POST /tasks/chunk, POST /tasks/callback

Command line:
    python main.py ocr FILE [--engine auto|lite|vlm] [--text-layer auto|off] [--pages 1-3,5]
                            [--format markdown|json|text] [--out DIR]
    python main.py serve [--port 8080]      the HTTP function on localhost
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# functions-framework targets and their modules. They are imported when functions-framework asks
# for one: the command line needs none of them (Flask and the cloud clients are a third of its
# start-up).
_TARGETS = {"ocr_http": "functions.http", "ocr_on_upload": "functions.on_upload", "ocr_worker": "functions.worker"}


def __getattr__(name: str):
    if name in _TARGETS:
        return getattr(importlib.import_module(_TARGETS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_TARGETS])


def _ocr_command(args: argparse.Namespace) -> int:
    from common.config import ConfigError, Settings
    from common.errors import OcrError
    from common.logs import setup_logging
    from common.pipeline import ocr_document, render

    try:
        overrides = {"ocr_engine": args.engine, "pdf_text_layer": args.text_layer}
        settings = Settings.from_env(**{key: value for key, value in overrides.items() if value})
        setup_logging("text" if settings.log_format == "auto" else settings.log_format)
        with open(args.file, "rb") as handle:
            data = handle.read(settings.max_upload_bytes + 1)
        with _progress(args.file) as on_page:
            result = ocr_document(data, settings, pages=args.pages, on_page=on_page)
    except (OSError, OcrError, ConfigError) as exc:
        print(f"error: {args.file}: {_reason(exc)}", file=sys.stderr)
        return 1
    output = render(result, args.format)
    if args.out:
        from common.results import write_document, write_page
        from common.storage import LocalStore

        store = LocalStore(args.out)
        for page in result.pages:
            write_page(store, ".", page)
        write_document(store, ".", os.path.abspath(args.file), result)
        print(f"wrote {len(result.pages)} pages, document.md and result.json to {args.out}", file=sys.stderr)
    sys.stdout.write(output)
    return 0 if not result.failed_pages else 3


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return getattr(exc, "message", None) or str(exc)


class _progress:
    """A tqdm bar on stderr for multi-page documents, only when stderr is a terminal."""

    def __init__(self, label: str):
        self.label, self.bar = label, None

    def __enter__(self):
        def on_page(_page, total: int) -> None:
            if self.bar is None and total > 1 and sys.stderr.isatty():
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=os.path.basename(self.label), unit="page", file=sys.stderr)
            if self.bar is not None:
                self.bar.update(1)

        return on_page

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _serve_command(args: argparse.Namespace) -> int:
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "functions_framework", "--target", "ocr_http", "--source", __file__,
         "--host", args.host, "--port", str(args.port)],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python main.py", description="gnosis-ocr: document OCR")
    commands = parser.add_subparsers(dest="command", required=True)

    ocr = commands.add_parser("ocr", help="OCR a PDF or image and print its text")
    ocr.add_argument("file", help="a PDF, PNG, JPEG, TIFF, WEBP or BMP file")
    ocr.add_argument("--engine", choices=("auto", "lite", "vlm"), default=None, help="default: OCR_ENGINE (auto)")
    ocr.add_argument("--text-layer", choices=("auto", "off"), default=None,
                     help="PDF pages: read each page's own text layer where usable (auto) or OCR every page (off); "
                          "default: PDF_TEXT_LAYER (auto)")
    ocr.add_argument("--pages", default=None, help="page range such as 1-3,5 (default: all pages)")
    ocr.add_argument("--format", choices=("markdown", "json", "text"), default="markdown")
    ocr.add_argument("--out", default=None, help="also write pages/NNNN.md, document.md and result.json into DIR")
    ocr.set_defaults(run=_ocr_command)

    serve = commands.add_parser("serve", help="run the HTTP function (POST /ocr, /warmup, /healthz) locally")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    serve.set_defaults(run=_serve_command)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
