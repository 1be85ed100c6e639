"""The app survives its clients: slow clients, too many connections, huge decoded images, a foreign
Host or Origin, and SIGTERM (its temporary folder is removed). All traffic stays on 127.0.0.1."""

from __future__ import annotations

import signal
import socket
import time
from urllib.parse import urlsplit

import pytest

pytest.importorskip("gradio")

from app_helpers import get, serving, start_app  # noqa: E402
from test_uploads import zero_png  # noqa: E402

from synthboost.app.guards import HostOriginGuard, allowed_hosts_for, network_warning  # noqa: E402
from synthboost.app.serve import ServeLimits  # noqa: E402


def open_slow(url: str, first: bytes) -> socket.socket:
    """A connection that sends the start of a request and then nothing."""
    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    sock.sendall(first)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` (EOF) within ``seconds`` (whatever it answers before)."""
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            sock.settimeout(max(0.01, end - time.monotonic()))
            if sock.recv(65536) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


@pytest.fixture(scope="module")
def strict_url(tiny_model, segmenter, app_workdir):
    """The app without example cases, with a 1-second read timeout and at most 4 connections."""
    from synthboost.app.serve import build

    blocks = build(str(tiny_model), app_workdir, phantom_patients=0, segmenter=segmenter)
    with serving(blocks, ServeLimits(read_timeout=1.0, max_connections=4)) as url:
        yield url


def test_foreign_host_is_refused_dns_rebinding(app_url):
    port = urlsplit(app_url).port
    assert get(app_url)[0] == 200
    assert get(app_url, {"Host": f"localhost:{port}"})[0] == 200
    status, body = get(app_url + "config", {"Host": f"attacker.example:{port}"})
    assert status == 403 and "'attacker.example' is not this server" in body


def test_cross_site_post_is_refused(app_url):
    port = urlsplit(app_url).port
    body = b'{"data": ["lv", "", "", "", null, ""]}'
    json = {"Content-Type": "application/json"}
    status, text = get(app_url + "gradio_api/call/prompt", {**json, "Origin": "https://evil.example"}, body)
    assert status == 403 and "cross-site request from origin 'https://evil.example' refused" in text
    status, _ = get(app_url + "gradio_api/call/prompt", {**json, "Origin": f"http://127.0.0.1:{port}"}, body)
    assert status == 200


def test_guard_rules_for_a_server_on_all_interfaces():
    any_host = HostOriginGuard(None, allowed_hosts_for("0.0.0.0"))
    assert any_host.refusal({b"host": b"192.0.2.7:7860"}) is None
    assert any_host.refusal({b"host": b"192.0.2.7:7860", b"origin": b"http://192.0.2.7:7860"}) is None
    assert "cross-site" in any_host.refusal({b"host": b"192.0.2.7:7860", b"origin": b"http://evil.example"})
    assert "cross-site" in any_host.refusal({b"host": b"127.0.0.1:7860", b"origin": b"null"})
    local = HostOriginGuard(None, allowed_hosts_for("127.0.0.1", ["echo-lab.example"]))
    assert local.refusal({b"host": b"[::1]:7860"}) is None
    assert local.refusal({b"host": b"echo-lab.example"}) is None
    assert "not this server" in local.refusal({b"host": b"192.0.2.7"})
    assert "not this server" in local.refusal({})
    assert "reachable from the network" in network_warning("0.0.0.0")
    assert network_warning("127.0.0.1") is None and network_warning("localhost") is None


def test_slow_clients_are_disconnected_and_do_not_block_others(strict_url):
    slow_head = open_slow(strict_url, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    slow_body = open_slow(strict_url, b"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      b"Content-Type: multipart/form-data; boundary=xyz\r\n"
                                      b"Content-Length: 100000\r\n\r\n--xyz\r\n")  # fmt: skip
    t0 = time.monotonic()
    assert get(strict_url)[0] == 200  # served while the slow clients hang
    assert closed_within(slow_head, 10) and closed_within(slow_body, 10)
    assert time.monotonic() - t0 < 8
    slow_head.close(), slow_body.close()


def test_connections_are_bounded(strict_url):
    hogs = [open_slow(strict_url, b"GET / HT") for _ in range(4)]
    time.sleep(0.3)
    assert get(strict_url)[0] == 503  # beyond max_connections: refused, not queued without bound
    assert all(closed_within(s, 10) for s in hogs)  # the read timeout frees them
    assert get(strict_url)[0] == 200
    for s in hogs:
        s.close()


def test_huge_decoded_image_is_a_clear_error_and_the_app_keeps_serving(strict_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    bomb = tmp_path / "bomb.png"
    zero_png(bomb, 4000, 4000, bit_depth=16, color_type=6)  # 122 MiB once decoded, pixels within limit
    assert bomb.stat().st_size < 150_000
    client = Client(strict_url, verbose=False, download_files=str(tmp_path / "dl"))
    with pytest.raises(
        AppError,
        match=r"bomb\.png: 4000×4000 pixels × 4 channel\(s\) × 16 bit = 122 MiB decoded, more than the 64 MiB",
    ):
        client.predict(
            [handle_file(bomb)], "", "Myocardium of the heart.", 0.5, None, None, api_name="/segment"
        )
    too_big = tmp_path / "big.bin.png"
    too_big.write_bytes(b"\0" * (21 * 2**20))
    with pytest.raises(Exception, match="(?i)exceeds the maximum|too large|413"):
        client.predict([handle_file(too_big)], "", "x", 0.5, None, None, api_name="/segment")
    assert get(strict_url)[0] == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_temp_folder_is_removed_on_sigterm_and_ctrl_c(tiny_model, tmp_path, sig):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc, seconds, _ = start_app(str(tiny_model), tmpdir)
    print(f"app page served {seconds:.1f} s after launch (tiny CLIPSeg, 1 phantom patient)")
    assert [p.name[:15] for p in tmpdir.iterdir()] == ["synthboost-app-"]
    proc.send_signal(sig)
    log = proc.stderr.read()  # to its end: the app's last words name what went wrong
    assert proc.wait(timeout=60) == (128 + signal.SIGTERM if sig == signal.SIGTERM else 0), log[-3000:]
    assert list(tmpdir.iterdir()) == []


def test_a_model_that_cannot_load_stops_the_app_with_a_clear_error(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    broken = tmp_path / "broken_run"
    (broken / "model").mkdir(parents=True)
    (broken / "model" / "config.json").write_text("[1, 2]")  # a list, not a config
    proc, _, _ = start_app(str(broken), tmpdir, "--phantom-patients", "0")
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 2
    assert (
        err.strip().splitlines()[-1].startswith("error: ") and "config.json" in err.strip().splitlines()[-1]
    )
    assert list(tmpdir.iterdir()) == []


def test_a_model_without_run_settings_gets_the_training_default_threshold(tmp_path):
    from synthboost.app.analysis import model_info
    from synthboost.training.losses import resolve_loss

    (tmp_path / "model").mkdir()
    for model in ("owner/hub-model", tmp_path / "model"):  # a hub id, a bare model folder
        assert model_info(model)["threshold"] == resolve_loss("default", "cris").threshold == 0.5


def test_large_or_unannounced_bodies_are_refused_before_reading(app_url):
    import http.client

    u = urlsplit(app_url)
    # A 2 MB body is announced but only its start is sent: the answer must come from the header alone
    # (sending it all would race the server's early close with a broken pipe).
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", "/gradio_api/call/segment")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", "2000000")
    conn.endheaders()
    conn.send(b'{"data": ["' + b"x" * 1000)
    res = conn.getresponse()
    assert res.status == 413 and "exceeds the 1,048,576-byte limit" in res.read().decode()
    conn.close()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", "/gradio_api/call/segment")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    conn.send(b'5\r\n{"a":\r\n')
    res = conn.getresponse()
    assert res.status == 411 and "Content-Length" in res.read().decode()
    conn.close()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", "/gradio_api/call/segment")
    conn.putheader("Content-Length", "-1")
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 400  # h11 or the guard: never a 500
    conn.close()
    assert get(app_url)[0] == 200
