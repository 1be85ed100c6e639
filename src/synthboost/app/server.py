"""The browser app's HTTP server: standard library only (``ThreadingHTTPServer``), one page, a JSON API.

Routes:

- ``GET /``: the page; ``GET /api/info``: cases, patients and attribute choices;
- ``POST /api/prompt`` (JSON attributes): the prompt they describe;
- ``POST /api/segment`` (multipart): ``image`` file *or* ``case`` id, ``prompt`` text *or* the
  attributes (``structure``, ``view``, ...), optional ``threshold``, ``spacing_row_mm``,
  ``spacing_col_mm``; answers the overlay (base64 PNG), the area and the prompt used;
- ``POST /api/volumes`` (multipart): ``patient`` (a phantom patient) *or* four files
  ``2CH_ED``, ``2CH_ES``, ``4CH_ED``, ``4CH_ES`` (+ attributes, spacing for PNGs); answers EDV,
  ESV, EF and the four LV overlays.

Bodies over :data:`MAX_UPLOAD_BYTES` are refused with 413, files that are not images with 400.
Uploads are written only inside the service's temporary folder, under names the server makes up,
and deleted after use. Binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import threading
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from synthboost.app.page import PAGE
from synthboost.app.service import AppService
from synthboost.data.format import PHASES, VIEWS
from synthboost.utils import get_logger

log = get_logger("app.server")

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Leading bytes of the accepted upload formats -> file suffix used on disk.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x1f\x8b", ".nii.gz"),
    (b"BM", ".bmp"),
)
NIFTI_MAGIC = (b"n+1\x00", b"ni1\x00")  # at byte 344 of a NIfTI-1 header


class HTTPError(Exception):
    """An error answered to the client with ``status`` and a JSON ``{"error": message}``."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def sniff_suffix(data: bytes) -> str:
    """File suffix of an accepted image format from its first bytes, or raise a 400 :class:`HTTPError`."""
    for magic, suffix in MAGIC:
        if data.startswith(magic):
            return suffix
    if len(data) > 348 and data[344:348] in NIFTI_MAGIC:
        return ".nii"
    raise HTTPError(
        HTTPStatus.BAD_REQUEST, "not an image: upload a PNG, JPEG, BMP or NIfTI (.nii/.nii.gz) file"
    )


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """``(fields, files)`` of a ``multipart/form-data`` body (files: parts with a file name)."""
    if not content_type.startswith("multipart/form-data"):
        raise HTTPError(HTTPStatus.BAD_REQUEST, "expected a multipart/form-data body")
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not msg.is_multipart():
        raise HTTPError(HTTPStatus.BAD_REQUEST, "malformed multipart body")
    fields, files = {}, {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            if payload:
                files[name] = payload
        else:
            fields[name] = payload.decode("utf-8", errors="replace").strip()
    return fields, files


class AppHandler(BaseHTTPRequestHandler):
    """Request handler; ``self.server.service`` is the :class:`AppService`."""

    server_version = "synthboost-app"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, PAGE.encode(), "text/html; charset=utf-8")
        elif self.path == "/api/info":
            self._json(self.server.service.info())
        else:
            self._json({"error": f"not found: {self.path}"}, HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        routes = {"/api/prompt": self._prompt, "/api/segment": self._segment, "/api/volumes": self._volumes}
        try:
            if self.path not in routes:
                raise HTTPError(HTTPStatus.NOT_FOUND, f"not found: {self.path}")
            self._json(routes[self.path](self._body()))
        except HTTPError as err:
            self.close_connection = True  # the body may be unread (413)
            self._json({"error": str(err)}, err.status)
        except (ValueError, FileNotFoundError) as err:
            self._json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
        except Exception:  # pragma: no cover - reported, never a traceback to the client
            log.exception("app: %s failed", self.path)
            self._json({"error": "internal error (see the server log)"}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HTTPError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header required") from None
        if length < 0:
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"invalid Content-Length {length}")
        if length > MAX_UPLOAD_BYTES:
            self._drain(length)
            raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            f"upload of {length / 2**20:.1f} MB exceeds the {MAX_UPLOAD_BYTES // 2**20} MB limit")  # fmt: skip
        return self.rfile.read(length)

    def _drain(self, length: int) -> None:
        """Read and drop a refused body (up to twice the limit) so the client can read the answer."""
        left = min(length, 2 * MAX_UPLOAD_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)

    def _prompt(self, body: bytes) -> dict[str, Any]:
        try:
            attrs = json.loads(body or b"{}")
        except json.JSONDecodeError as err:
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"invalid JSON ({err})") from None
        if not isinstance(attrs, dict):
            raise HTTPError(HTTPStatus.BAD_REQUEST, "expected a JSON object of attributes")
        return {"prompt": self.server.service.prompt(attrs)}

    def _form(self, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
        return parse_multipart(self.headers.get("Content-Type", ""), body)

    def _upload(self, data: bytes, fields: dict[str, str]) -> tuple[Any, tuple[float, float] | None]:
        """Read an uploaded image through a file of our own naming in the service's folder."""
        from synthboost.app.segment import MAX_PIXELS, ImageTooLarge, read_image

        service: AppService = self.server.service
        path = service.workdir / "uploads" / f"{uuid.uuid4().hex}{sniff_suffix(data)}"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_bytes(data)
            try:
                image, spacing = read_image(path)
            except ImageTooLarge as err:
                raise HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                f"image of {err.pixels:,} pixels exceeds the {MAX_PIXELS:,}-pixel limit") from None  # fmt: skip
            except ValueError:
                raise HTTPError(HTTPStatus.BAD_REQUEST, "the file could not be read as a 2-D image") from None
        finally:
            path.unlink(missing_ok=True)
        return image, spacing or _spacing_field(fields)

    def _segment(self, body: bytes) -> dict[str, Any]:
        fields, files = self._form(body)
        service: AppService = self.server.service
        if "image" in files:
            image, spacing = self._upload(files["image"], fields)
        elif fields.get("case"):
            image, spacing = service.case_image(fields["case"])
        else:
            raise HTTPError(HTTPStatus.BAD_REQUEST, "upload an image or pick a case")
        prompt = fields["prompt"] if fields.get("prompt") else service.prompt(fields)
        default = getattr(service.segmenter, "threshold", 0.5)  # the run's threshold
        return service.segment(image, spacing, prompt, float(fields.get("threshold") or default))

    def _volumes(self, body: bytes) -> dict[str, Any]:
        fields, files = self._form(body)
        service: AppService = self.server.service
        if fields.get("patient"):
            return service.patient_volumes(fields["patient"])
        keys = {f"{v}_{p}": (v, p) for v in VIEWS for p in PHASES}
        if not all(k in files for k in keys):
            raise HTTPError(HTTPStatus.BAD_REQUEST, f"pick a patient or upload four images {sorted(keys)}")
        views = {vp: self._upload(files[k], fields) for k, vp in keys.items()}
        return service.volumes(views, fields)


def _spacing_field(fields: dict[str, str]) -> tuple[float, float] | None:
    """``(row_mm, col_mm)`` from the form, or ``None`` when not given."""
    row, col = fields.get("spacing_row_mm"), fields.get("spacing_col_mm")
    if not row or not col:
        return None
    try:
        spacing = (float(row), float(col))
    except ValueError:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "pixel spacing must be numbers (mm)") from None
    if min(spacing) <= 0:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "pixel spacing must be positive")
    return spacing


def make_server(service: AppService, host: str = "127.0.0.1", port: int = 7860) -> ThreadingHTTPServer:
    """A bound, not yet serving, server (``port=0``: an ephemeral port, see ``server.server_address``)."""
    server = ThreadingHTTPServer((host, port), AppHandler)
    server.daemon_threads = True
    server.service = service  # type: ignore[attr-defined]
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Start ``server.serve_forever`` in a daemon thread (stop with ``server.shutdown()``)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread


def run_app(model: str | Path, host: str = "127.0.0.1", port: int = 7860, phantom_patients: int = 3) -> None:
    """Load the model, start the app and serve until interrupted (Ctrl-C)."""
    from synthboost.app.segment import Segmenter

    service = AppService(Segmenter.from_pretrained(model), phantom_patients=phantom_patients)
    server = make_server(service, host, port)
    log.info("synthboost app on http://%s:%d (Ctrl-C to stop)", *server.server_address[:2])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.close()
