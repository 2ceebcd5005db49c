"""The console, driven by a real headless Chromium against a real assetd.

The tests run in file order and build on each other's assets: what one uploads the next
searches, edits, deletes and restores. Each page is saved as a screenshot."""

import re
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect

from conftest import new_page, sign_in

# Asset ids by file name, filled in by the uploads.
ASSETS: dict[str, str] = {}
PROCESSING = 300_000  # ms: generous, the machine is shared


def shot(page: Page, shots: Path, name: str):
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def upload_row(page: Page, file_name: str):
    return page.locator("li.upload").filter(has_text=file_name)


def card(page: Page, asset_name: str):
    return page.get_by_role("link", name=re.compile("^" + re.escape(asset_name) + r"\b"))


def remember(page: Page, path: Path):
    href = upload_row(page, path.name).get_by_role("link", name=path.name, exact=True).get_attribute("href")
    ASSETS[path.name] = href.rsplit("/", 1)[1]


def upload(page: Page, files: list[Path]):
    page.goto("/console/upload")
    page.get_by_label("Upload files").set_input_files([str(f) for f in files])


def test_a_wrong_secret_key_is_refused(browser, server, shots):
    page = new_page(browser, server)
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    shot(page, shots, "01-sign-in")
    page.get_by_label("Project ID").fill(server.user.project)
    page.get_by_label("Access key").fill(server.user.ak)
    page.get_by_label("Secret key").fill(server.user.sk + "-wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Sign-in failed: the project ID, access key or secret key is wrong")
    expect(page.get_by_label("Secret key")).to_have_value("")
    assert not [c for c in page.context.cookies() if c["name"] == "assetd_session"]
    page.goto("/console/upload")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    page.context.close()


def test_uploads_of_an_image_a_video_a_pdf_and_audio_become_actived(user, media, shots):
    files = [media["image"], media["fractal"], media["video"], media["pdf"], media["audio"]]
    upload(user, files)
    for f in files:
        row = upload_row(user, f.name)
        expect(row.locator(".badge")).to_have_text("ACTIVED", timeout=PROCESSING)
        expect(row).to_contain_text("Ready")
        bar = row.locator("progress")
        assert bar.get_attribute("value") == bar.get_attribute("max") == str(f.stat().st_size)
        expect(row.locator("span.chip")).to_have_text(
            {".png": "IMAGE", ".mp4": "VIDEO", ".pdf": "PPT", ".wav": "AUDIO"}[f.suffix])
        remember(user, f)
    shot(user, shots, "03-upload")


def test_the_library_shows_thumbnails_and_searches_names_as_you_type(user, shots):
    user.goto("/console")
    for name in ("sunset", "fractal", "city night", "Quarterly results", "theme"):
        expect(card(user, name).locator(".badge")).to_have_text("ACTIVED")
    # Image thumbnails, the video's cover frame and the PDF's first page; audio has an icon.
    expect(user.locator(".card img")).to_have_count(4)
    user.wait_for_function(
        "() => [...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth > 0)")
    expect(user.get_by_role("status").first).to_contain_text("of 5 assets")
    shot(user, shots, "02-library")

    user.get_by_label("Search").press_sequentially("sun", delay=50)
    expect(card(user, "city night")).to_have_count(0)
    expect(card(user, "sunset")).to_be_visible()
    expect(user).to_have_url(re.compile(r"q=sun"))

    user.get_by_label("Search").fill("")
    user.get_by_label("Type").select_option("VIDEO")
    expect(card(user, "sunset")).to_have_count(0)
    expect(card(user, "city night")).to_be_visible()
    user.get_by_label("Type").select_option("")
    user.get_by_label("Sort").select_option("name")
    expect(user.locator(".card .card-name")).to_have_text(
        ["Quarterly results", "city night", "fractal", "sunset", "theme"])
    user.reload()
    expect(user.get_by_label("Sort")).to_have_value("name")


def test_the_asset_page_plays_previews_downloads_and_edits(user, media, shots):
    video_id = ASSETS[media["video"].name]
    user.goto(f"/console/assets/{video_id}")
    user.wait_for_function(
        "() => { const v = document.querySelector('video.preview-video');"
        " return v && v.readyState >= 1 && v.duration > 2; }")
    expect(user.locator("dl.meta")).to_contain_text("640")
    download = user.get_by_role("link", name=f"Download {media['video'].name}")
    body = user.request.get(download.get_attribute("href"))
    assert body.status == 200 and body.body() == media["video"].read_bytes()

    user.get_by_label("Name").fill("City lights")
    user.get_by_label("Description").fill("Night traffic, three seconds.")
    user.get_by_label("Tags").fill("night, city")
    user.get_by_label("Order").fill("5")
    user.get_by_role("button", name="Save details").click()
    expect(user.get_by_role("status").first).to_have_text("Details saved.")
    expect(user.get_by_role("heading", level=1)).to_have_text("City lights")
    expect(user.locator("dl.meta")).to_contain_text("night")
    shot(user, shots, "04-asset-video")

    user.goto(f"/console/assets/{ASSETS[media['pdf'].name]}")
    expect(user.get_by_role("img", name="Page 1")).to_be_visible()
    expect(user.get_by_role("img", name="Page 2")).to_be_visible()
    expect(user.locator(".pages")).to_contain_text("Revenue up 12 percent")
    expect(user.locator(".pages")).to_contain_text("Ship the console")
    user.wait_for_function(
        "() => [...document.querySelectorAll('.pages img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(user, shots, "05-asset-pdf")

    user.goto(f"/console/assets/{ASSETS[media['audio'].name]}")
    user.wait_for_function(
        "() => { const a = document.querySelector('audio'); return a && a.readyState >= 1 && a.duration > 3; }")

    user.goto(f"/console/assets/{ASSETS[media['image'].name]}")
    user.wait_for_function(
        "() => { const i = document.querySelector('img.preview-image'); return i && i.naturalWidth === 960; }")


def test_an_asset_moves_to_the_recycle_bin_and_back(user, media, shots):
    asset_id = ASSETS[media["image"].name]
    user.goto(f"/console/assets/{asset_id}")
    user.get_by_role("button", name="Move to recycle bin").click()
    expect(user).to_have_url(re.compile(r"/console$"))
    expect(user.get_by_role("status").first).to_have_text("Moved to the recycle bin.")
    expect(card(user, "sunset")).to_have_count(0)

    user.get_by_role("link", name="Recycle bin").click()
    expect(user.locator(".row")).to_contain_text("sunset")
    expect(user.locator(".row .badge")).to_have_text("DELETING")
    shot(user, shots, "06-recycle-bin")
    user.get_by_role("button", name="Restore sunset").click()
    expect(user).to_have_url(re.compile(f"/console/assets/{asset_id}$"))
    expect(user.get_by_role("status").first).to_have_text("Restored.")
    expect(user.locator(".asset-head .badge")).to_have_text("ACTIVED")


def test_sharing_and_a_schedule_are_saved_and_the_partner_sees_the_asset(user, browser, server, media, shots):
    asset_id = ASSETS[media["image"].name]
    user.goto(f"/console/assets/{asset_id}")
    user.get_by_role("radio", name=re.compile("^SHARED")).check()
    user.get_by_label("Allowed projects").fill(server.partner.project)
    user.get_by_label("Share expires (UTC)").fill("2031-01-31T18:00")
    user.get_by_role("button", name="Save sharing").click()
    expect(user.get_by_role("status").first).to_have_text("Sharing saved.")
    expect(user.locator("dl.meta")).to_contain_text(
        f"SHARED with {server.partner.project} until 2031-01-31T18:00:00Z")
    user.get_by_label("Block at (UTC)").fill("2032-06-01T09:30")
    user.get_by_role("button", name="Save schedule").click()
    expect(user.get_by_role("status").first).to_have_text("Schedule saved.")
    expect(user.locator("dl.meta")).to_contain_text("Scheduled BLOCK")
    expect(user.get_by_label("Block at (UTC)")).to_have_value("2032-06-01T09:30")
    shot(user, shots, "09-asset-shared")

    partner = new_page(browser, server)
    sign_in(partner, server.partner)
    partner.goto(f"/console/assets/{asset_id}")
    expect(partner.get_by_role("heading", level=1)).to_have_text("sunset")
    expect(partner.locator(".alert-info")).to_contain_text(f"Shared with you by project {server.user.project}")
    expect(partner.get_by_role("button", name="Save details")).to_have_count(0)
    partner.context.close()


def test_an_upload_that_fails_shows_its_reason(user, media, shots):
    upload(user, [media["broken"], media["text"]])
    refused = upload_row(user, media["text"].name)
    expect(refused).to_contain_text(".txt files cannot be uploaded here")
    broken = upload_row(user, media["broken"].name)
    expect(broken.locator(".badge")).to_have_text("FAILED", timeout=PROCESSING)
    expect(broken.locator(".reason")).to_have_text("main file broken.png: content is not a recognisable PNG file")
    shot(user, shots, "08-upload-failed")
    remember(user, media["broken"])

    user.goto(f"/console/assets/{ASSETS[media['broken'].name]}")
    expect(user.get_by_role("alert")).to_contain_text("content is not a recognisable PNG file")
    # Gone for good: recycle bin, then delete forever (the confirmation is accepted).
    user.get_by_role("button", name="Move to recycle bin").click()
    user.goto("/console/recycle-bin")
    user.get_by_role("button", name="Delete broken forever").click()
    expect(user.get_by_role("status").first).to_have_text("Deleted forever.")
    expect(user.locator(".row")).to_have_count(0)


def test_an_admin_decides_reviews_while_the_library_updates_without_a_reload(user, admin, media, shots):
    poster, banner = media["needs-review poster"], media["needs-review banner"]
    upload(user, [poster, banner])
    for f in (poster, banner):
        expect(upload_row(user, f.name)).to_contain_text("waiting for a person to review it", timeout=PROCESSING)
        remember(user, f)
    user.goto("/console")
    expect(card(user, "needs-review poster").locator(".badge")).to_have_text("CREATING")
    user.evaluate("window.stillTheSamePage = true")

    admin.get_by_role("link", name="Admin").click()
    expect(admin.locator(".review")).to_have_count(2)
    admin.wait_for_function(
        "() => [...document.querySelectorAll('.review img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(admin, shots, "07-admin")
    admin.get_by_role("button", name="Approve needs-review poster").click()
    expect(admin.get_by_role("status").first).to_have_text("Approved: the asset is now ACTIVED.")
    admin.get_by_label("Rejection reason for needs-review banner").fill("Off-brand colours")
    admin.get_by_role("button", name="Reject needs-review banner").click()
    expect(admin.get_by_role("status").first).to_have_text("Rejected: the asset is now FAILED.")
    expect(admin.locator(".review")).to_have_count(0)

    expect(card(user, "needs-review poster").locator(".badge")).to_have_text("ACTIVED")
    expect(card(user, "needs-review banner").locator(".badge")).to_have_text("FAILED")
    assert user.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
    shot(user, shots, "10-library-live")
    user.goto(f"/console/assets/{ASSETS[banner.name]}")
    expect(user.get_by_role("alert")).to_contain_text("MANUAL_REVIEW_REJECT")
    expect(user.get_by_role("alert")).to_contain_text("Off-brand colours")

    poster_id = ASSETS[poster.name]
    admin.get_by_label("Asset ID").fill(poster_id)
    admin.get_by_label("Reason", exact=True).fill("Licence expired")
    admin.get_by_role("button", name="Block", exact=True).click()
    expect(admin.get_by_role("status").first).to_have_text("Blocked: its files cannot be downloaded.")
    user.goto(f"/console/assets/{poster_id}")
    expect(user.locator(".asset-head .badge")).to_have_text("BLOCK")
    expect(user.locator(".alert-warning")).to_contain_text("Licence expired")
    admin.get_by_label("Asset ID").fill(poster_id)
    admin.get_by_role("button", name="Unblock").click()
    expect(admin.get_by_role("status").first).to_have_text("Unblocked.")
    user.reload()
    expect(user.locator(".asset-head .badge")).to_have_text("ACTIVED")

    admin.get_by_label("Project ID").fill("partner-studio")
    admin.get_by_role("button", name="Add to whitelist").click()
    expect(admin.locator(".whitelist")).to_contain_text("partner-studio")
    admin.get_by_role("button", name="Remove partner-studio from the whitelist").click()
    expect(admin.get_by_text("No project is whitelisted.")).to_be_visible()


def test_a_large_file_goes_in_parts_and_resumes_after_a_dropped_connection(user, big_video):
    seen = {"aborted": 0, "large_files": 0, "part_2_stored": 0}

    def drop_once(route):
        if route.request.method == "PUT" and seen["aborted"] == 0:
            seen["aborted"] += 1
            route.abort("connectionreset")
        else:
            route.continue_()

    def finished(request):
        if "/large-files" in request.url:
            seen["large_files"] += 1
        if request.method == "PUT" and re.search(r"[?&]part=2&", request.url):
            if request.response() and request.response().status == 200:
                seen["part_2_stored"] += 1

    user.route(re.compile(r"/uploads/[^?]+\?part=2&"), drop_once)
    user.on("requestfinished", finished)
    upload(user, [big_video])
    row = upload_row(user, big_video.name)
    expect(row.locator(".badge")).to_have_text("ACTIVED", timeout=2 * PROCESSING)
    assert seen == {"aborted": 1, "large_files": 1, "part_2_stored": 1}, seen
    remember(user, big_video)
    user.goto(f"/console/assets/{ASSETS[big_video.name]}")
    expect(user.locator("table.files")).to_contain_text(big_video.name)


def test_a_large_upload_resumes_where_it_stopped_after_a_reload(user, big_video):
    user.route(re.compile(r"/uploads/[^?]+\?part=3&"), lambda route: route.abort("connectionreset"))
    upload(user, [big_video])
    row = upload_row(user, big_video.name)
    expect(row).to_contain_text("Connection lost", timeout=PROCESSING)
    first = row.get_by_role("link", name=big_video.name, exact=True).get_attribute("href")
    user.unroute_all()
    user.reload()
    sent = []
    user.on("request", lambda r: r.method == "PUT" and "/uploads/" in r.url
            and sent.append(re.search(r"[?&]part=(\d+)", r.url).group(1)))
    # Picking the same file again finds the unfinished upload and sends only what is missing.
    upload(user, [big_video])
    row = upload_row(user, big_video.name)
    expect(row.locator(".badge")).to_have_text("ACTIVED", timeout=2 * PROCESSING)
    assert row.get_by_role("link", name=big_video.name, exact=True).get_attribute("href") == first
    assert "1" not in sent and "2" not in sent and "3" in sent, sent


def test_cancel_stops_an_upload_and_keeps_nothing(user):
    with tempfile.TemporaryDirectory() as tmp:
        doomed = Path(tmp) / "cancel-me.mp4"
        with open(doomed, "wb") as f:
            f.truncate(110 * 1024 * 1024)
        user.route(re.compile(r"/uploads/[^?]+\?part=2&"), lambda route: route.abort("connectionreset"))
        upload(user, [doomed])
        row = upload_row(user, doomed.name)
        expect(row).to_contain_text("Connection lost", timeout=PROCESSING)
        row.get_by_role("button", name=f"Cancel {doomed.name}").click()
        expect(row).to_contain_text("Cancelled · nothing was kept")
        expect(row.locator(".badge")).to_have_text("DELETED")
    user.goto("/console?q=cancel-me")
    expect(user.get_by_role("status").first).to_have_text("No assets")
    user.goto("/console/recycle-bin")
    expect(user.locator(".row")).to_have_count(0)


def test_sign_out_ends_the_session(user):
    user.get_by_role("button", name="Sign out").click()
    expect(user).to_have_url(re.compile(r"/console/sign-in$"))
    expect(user.get_by_role("status")).to_have_text("You are signed out.")
    user.goto("/console")
    expect(user).to_have_url(re.compile(r"/console/sign-in$"))
