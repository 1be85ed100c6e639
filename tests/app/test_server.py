"""The browser app's HTTP API, in process, on an ephemeral port of 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest

from synthboost.app.server import MAX_UPLOAD_BYTES, make_server, serve_in_thread
from synthboost.app.service import AppService

TIMEOUT = 60


@pytest.fixture(scope="module")
def app_url(segmenter):
    service = AppService(segmenter, phantom_patients=1, seed=0)
    server = make_server(service, "127.0.0.1", 0)
    serve_in_thread(server)
    watchdog = threading.Timer(300, server.shutdown)  # never outlives a stuck test run
    watchdog.daemon = True
    watchdog.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}", service
    watchdog.cancel()
    server.shutdown()
    server.server_close()
    workdir = service.workdir
    service.close()
    assert not workdir.exists()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")  # fmt: skip
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post(url: str, fields=None, files=None) -> tuple[int, dict]:
    body, ctype = multipart(fields or {}, files or {})
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_page_and_info(app_url):
    url, _ = app_url
    with urllib.request.urlopen(url + "/", timeout=TIMEOUT) as r:
        page = r.read().decode()
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "/api/segment" in page and '<select id="structure"' in page
    with urllib.request.urlopen(url + "/api/info", timeout=TIMEOUT) as r:
        info = json.loads(r.read())
    assert len(info["cases"]) == 4 and info["patients"] == ["patient0001"]
    assert info["structures"]["lv"] == "LV cavity"
    assert info["threshold"] == 0.5  # the page starts from the model's threshold


def test_upload_and_segment_returns_overlay_and_area(app_url, echo_png):
    url, service = app_url
    status, res = post(url + "/api/segment", {"structure": "lv", "view": "2CH", "phase": "ED"},
                       {"image": ("echo.png", echo_png.read_bytes())})  # fmt: skip
    assert status == 200, res
    png = base64.b64decode(res["overlay"])
    assert png.startswith(b"\x89PNG") and res["unit"] == "px" and res["shape"] == [60, 48]
    assert 0 <= res["area"] <= 60 * 48
    assert res["prompt"].startswith("Left ventricular cavity in two-chamber view")
    assert not list((service.workdir / "uploads").iterdir())  # uploads are removed after use


def test_phantom_case_has_area_in_mm2_and_free_text_prompt(app_url):
    url, _ = app_url
    status, res = post(
        url + "/api/segment", {"case": "patient0001_4CH_ES", "prompt": "Myocardium of the heart."}
    )
    assert status == 200, res
    assert res["unit"] == "mm²" and res["prompt"] == "Myocardium of the heart."


def test_prompt_endpoint(app_url):
    url, _ = app_url
    req = urllib.request.Request(url + "/api/prompt", data=json.dumps({"structure": "la", "view": "4CH",
                                 "phase": "ES", "age": "56"}).encode(), method="POST")  # fmt: skip
    with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
        assert "fifty-six-year-old" in json.loads(r.read())["prompt"]


def test_non_image_is_rejected(app_url):
    url, _ = app_url
    status, res = post(
        url + "/api/segment", {"structure": "lv"}, {"image": ("x.png", b"#!/bin/sh\necho hi\n")}
    )
    assert status == 400 and "not an image" in res["error"]
    status, res = post(
        url + "/api/segment", {"structure": "lv"}, {"image": ("x.png", b"\x89PNG\r\n\x1a\nbroken")}
    )
    assert status == 400 and "could not be read" in res["error"]
    status, res = post(url + "/api/segment", {"structure": "lv"})
    assert status == 400 and "upload an image" in res["error"]


def test_oversized_upload_is_rejected(app_url):
    url, _ = app_url
    status, res = post(
        url + "/api/segment", {"structure": "lv"}, {"image": ("big.png", b"\0" * (MAX_UPLOAD_BYTES + 10))}
    )
    assert status == 413 and "20 MB" in res["error"]


def test_four_views_give_volumes_and_ef(app_url):
    url, _ = app_url
    status, res = post(url + "/api/volumes", {"patient": "patient0001"})
    assert status == 200, res
    assert sorted(res["overlays"]) == ["2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"]
    assert res["reference"]["ef"] > 0
    # a random tiny model: values may be missing, but then the reason is given
    assert (res["ef"] is not None) or res["errors"]
    status, res = post(url + "/api/volumes", {"patient": "patient0099"})
    assert status == 400 and "unknown patient" in res["error"]


def test_volumes_from_a_perfect_segmenter(tmp_path):
    """With the true label maps as 'predictions' the app's EF is the phantom's true EF."""
    from synthboost.data.camus import read_frame
    from synthboost.evaluate.segmenter import Segmentation

    class Oracle:
        def __init__(self) -> None:
            self.labels: dict[bytes, np.ndarray] = {}

        def __call__(self, image: np.ndarray, prompt: str, threshold: float) -> Segmentation:
            k = 1 if prompt.startswith("Left ventricular") else 2 if prompt.startswith("Myocardium") else 3
            prob = (self.labels[image.tobytes()] == k).astype(np.float32)
            return Segmentation(prob, prob > threshold, prompt, threshold)

    oracle = Oracle()
    service = AppService(oracle, workdir=tmp_path, phantom_patients=1, seed=1)
    from synthboost.data.camus import list_frames

    for frame in list_frames(tmp_path / "phantom")[1]:
        image, labels, _ = read_frame(frame)
        oracle.labels[image.tobytes()] = labels
    res = service.patient_volumes("patient0001")
    assert res["errors"] == []
    assert res["edv"] == pytest.approx(res["reference"]["edv"], rel=0.05)
    assert res["ef"] == pytest.approx(res["reference"]["ef"], abs=3)


def test_negative_content_length_is_refused(app_url):
    import http.client
    from urllib.parse import urlparse

    url, _ = app_url
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
    conn.putrequest("POST", "/api/prompt")
    conn.putheader("Content-Length", "-1")
    conn.endheaders()
    conn.send(b'{"structure": "lv"}')
    res = conn.getresponse()
    assert res.status == 400 and "invalid Content-Length" in json.loads(res.read())["error"]
    conn.close()


def test_small_file_holding_a_huge_image_is_refused_before_decoding(app_url):
    import io

    from PIL import Image

    url, _ = app_url
    buf = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 1_000_000  # small upload, 25 megapixels once decoded
    status, res = post(url + "/api/segment", {"structure": "lv"}, {"image": ("big.png", buf.getvalue())})
    assert status == 413 and "25,000,000 pixels" in res["error"]
