"""Fixtures of the console's browser suite: a real assetd with two projects (one with admin
credentials), a small external reviewer that sends chosen files to the manual queue, media
made with ffmpeg and by hand, and headless Chromium."""

import http.server
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
# This machine's closed network refuses Chromium's background connections; don't make them.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Files whose name contains this go to the manual review queue.
MANUAL_MARK = "needs-review"

expect.set_options(timeout=30_000)


@dataclass
class Credentials:
    project: str
    ak: str
    sk: str


@dataclass
class Server:
    base: str
    user: Credentials
    admin: Credentials
    partner: Credentials
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reviewer(http.server.BaseHTTPRequestHandler):
    """assetd's external reviewer: PASS, or MANUAL for files marked for a person."""

    def do_POST(self):  # noqa: N802 (http.server's spelling)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if MANUAL_MARK in body["asset_name"]:
            answer = {"verdict": "MANUAL", "reason": "the reviewer wants a person to look at this"}
        else:
            answer = {"verdict": "PASS"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def reviewer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Reviewer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/review"
    server.shutdown()


def create_credentials(binary: str, data: Path, project: str, admin: bool) -> Credentials:
    ak = "AK" + secrets.token_hex(8).upper()
    sk = secrets.token_urlsafe(30)
    command = [binary, "--data-dir", str(data), "credentials", "create", "--project-id", project,
               "--access-key", ak, "--secret-key", sk]
    if admin:
        command.append("--admin")
    subprocess.run(command, check=True, capture_output=True)
    return Credentials(project, ak, sk)


@pytest.fixture(scope="session")
def server(reviewer, tmp_path_factory):
    binary = os.environ.get("ASSETD_BIN", str(REPO / "target/debug/assetd"))
    data = tmp_path_factory.mktemp("assetd-data")
    config = data / "assetd.toml"
    config.write_text(f'review_url = "{reviewer}"\nreview_timeout_secs = 30\n')
    user = create_credentials(binary, data, "studio", admin=False)
    admin = create_credentials(binary, data, "operations", admin=True)
    partner = create_credentials(binary, data, "partner-studio", admin=False)
    port = free_port()
    log = data / "assetd.log"
    env = dict(os.environ, ASSETD_CONFIG=str(config), ASSETD_LOG="info")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [binary, "--data-dir", str(data), "serve", "--listen", f"127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"assetd exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("assetd did not become healthy")
        time.sleep(0.1)
    yield Server(base, user, admin, partner, log)
    process.terminate()
    process.wait(timeout=30)
    text = log.read_text()
    for secret in (user.sk, admin.sk, partner.sk):
        assert secret not in text, "a secret key reached the log"


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    path = Path(os.environ.get("ASSETD_SCREENSHOTS", REPO / "target/console-screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_page(browser, server: Server) -> Page:
    context = browser.new_context(viewport={"width": 1360, "height": 860}, base_url=server.base)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    errors = []
    # Failed loads are expected (404 to resume probes, dropped connections); script errors and
    # CSP violations are not.
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.script_errors = errors
    return page


def sign_in(page: Page, who: Credentials):
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    page.get_by_label("Project ID").fill(who.project)
    page.get_by_label("Access key").fill(who.ak)
    page.get_by_label("Secret key").fill(who.sk)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def user(browser, server):
    page = new_page(browser, server)
    sign_in(page, server.user)
    yield page
    assert page.script_errors == [], page.script_errors
    page.context.close()


@pytest.fixture
def admin(browser, server):
    page = new_page(browser, server)
    sign_in(page, server.admin)
    yield page
    assert page.script_errors == [], page.script_errors
    page.context.close()


def ffmpeg(args: str, out: Path) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args.split(), str(out)], check=True)
    return out


def pdf(pages: list[str]) -> bytes:
    """A PDF with one page per entry, each line in Helvetica."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))), len(pages)),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 640 360] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        lines = text.splitlines()
        stream = "BT /F1 28 Tf 34 TL 40 300 Td"
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            stream += f" ({escaped}) Tj T*"
        stream += " ET"
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.fixture(scope="session")
def media():
    """Files to upload, made here: nothing is committed."""
    with tempfile.TemporaryDirectory(prefix="assetd-console-media-") as tmp:
        d = Path(tmp)
        files = {
            "image": ffmpeg("-f lavfi -i gradients=s=960x600:c0=0xff7e5f:c1=0x6a3093:x0=0:y0=0:x1=960:y1=600 "
                            "-frames:v 1", d / "sunset.png"),
            "video": ffmpeg("-f lavfi -i life=s=640x360:r=25:mold=10:ratio=0.12:life_color=#5eead4:"
                            "death_color=#0f172a:mold_color=#4338ca -f lavfi -i sine=frequency=440:d=3 -t 3 "
                            "-c:v libx264 -pix_fmt yuv420p -c:a aac -shortest -movflags +faststart",
                            d / "city night.mp4"),
            "audio": ffmpeg("-f lavfi -i sine=frequency=523:d=4 -c:a pcm_s16le", d / "theme.wav"),
            "fractal": ffmpeg("-f lavfi -i mandelbrot=s=960x600 -frames:v 1", d / "fractal.png"),
        }
        files["pdf"] = d / "Quarterly results.pdf"
        files["pdf"].write_bytes(pdf(["Quarterly results\nRevenue up 12 percent", "Next steps\nShip the console"]))
        files["broken"] = d / "broken.png"
        files["broken"].write_bytes(b"this is plain text, not a PNG image\n" * 20)
        files["text"] = d / "notes.txt"
        files["text"].write_text("not an asset type the console uploads\n")
        for name in ("needs-review poster", "needs-review banner"):
            files[name] = ffmpeg("-f lavfi -i sierpinski=s=640x400 -frames:v 1", d / f"{name}.png")
        yield files


@pytest.fixture(scope="session")
def big_video():
    """An H.264 MP4 over 100 MB (lossless noise), so the page sends it in parts."""
    with tempfile.TemporaryDirectory(prefix="assetd-console-big-") as tmp:
        path = ffmpeg("-f lavfi -i nullsrc=s=1280x720:r=25:d=3,geq=lum=random(1)*255:cb=128:cr=128 "
                      "-c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p -movflags +faststart",
                      Path(tmp) / "drone flight.mp4")
        assert path.stat().st_size > 100 * 1024 * 1024, path.stat().st_size
        yield path
