//! The console's HTTP rules, checked without a browser (the browser suite is
//! `tests/console_browser/`): sign-in and its cookie, sign-out revoking the token, CSRF and
//! same-origin checks, security headers, the session-authenticated API mount, and that the
//! pages show what the API holds.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::{Client, TestServer};
use serde_json::json;

/// A browser-like client: keeps cookies, follows no redirects.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// What came back.
struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The page's CSRF token (`data-csrf` on `<body>`).
    fn csrf(&self) -> String {
        let start = self.text.find("data-csrf=\"").expect("a signed-in page") + 11;
        self.text[start..start + 64].to_owned()
    }
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.send().await.expect("request failed");
        let page = Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        };
        for set in page.set_cookies() {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A same-origin form POST, as a browser sends it.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let host = self.base.trim_start_matches("http://").to_owned();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", format!("http://{host}"))
            .header("sec-fetch-site", "same-origin")
            .form(fields);
        self.send(request).await
    }

    async fn sign_in(&mut self, client: &Client) -> Page {
        self.post(
            "/console/sign-in",
            &[
                ("project_id", client.project.as_str()),
                ("access_key", client.ak.as_str()),
                ("secret_key", client.sk.as_str()),
            ],
        )
        .await
    }

    fn session(&self) -> String {
        self.cookies
            .get("assetd_session")
            .cloned()
            .expect("signed in")
    }
}

async fn signed_in(server: &TestServer, client: &Client) -> (Browser, String) {
    let mut browser = Browser::new(&server.base);
    let reply = browser.sign_in(client).await;
    assert_eq!((reply.status, reply.location()), (303, "/console"));
    let csrf = browser.get("/console").await.csrf();
    (browser, csrf)
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_scoped_to_the_console() {
    let server = TestServer::spawn().await;
    let mut browser = Browser::new(&server.base);
    let reply = browser.sign_in(&server.client).await;
    assert_eq!((reply.status, reply.location()), (303, "/console"));
    let cookie = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("assetd_session="))
        .expect("a session cookie");
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=86400",
    ] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains(&server.client.sk));
    // The session is a token of the token table: it works as X-Auth-Token too.
    let token = browser.session();
    let page = browser.get("/console").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&server.client.project));
    let api = server
        .client
        .http()
        .get(format!(
            "{}/v1/{}/digital-assets",
            server.base, server.client.project
        ))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_served_over_tls() {
    let server = TestServer::spawn().await;
    let mut browser = Browser::new(&server.base);
    let host = server.base.trim_start_matches("http://").to_owned();
    let request = browser
        .http
        .post(format!("{}/console/sign-in", server.base))
        .header("origin", format!("https://{host}"))
        .header("x-forwarded-proto", "https")
        .form(&[
            ("project_id", server.client.project.as_str()),
            ("access_key", server.client.ak.as_str()),
            ("secret_key", server.client.sk.as_str()),
        ]);
    let reply = browser.send(request).await;
    assert_eq!(reply.status, 303);
    assert!(
        reply.set_cookies()[0].contains("; Secure"),
        "{:?}",
        reply.set_cookies()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused_without_saying_which_part_was_wrong() {
    let server = TestServer::spawn().await;
    let other = server.new_client(false).await;
    let c = &server.client;
    let mut browser = Browser::new(&server.base);
    for (project, ak, sk) in [
        (c.project.as_str(), c.ak.as_str(), "wrong-secret-key"),
        (c.project.as_str(), "NOSUCHKEY", c.sk.as_str()),
        (other.project.as_str(), c.ak.as_str(), c.sk.as_str()),
    ] {
        let reply = browser
            .post(
                "/console/sign-in",
                &[
                    ("project_id", project),
                    ("access_key", ak),
                    ("secret_key", sk),
                ],
            )
            .await;
        assert_eq!(reply.status, 401);
        assert!(reply
            .text
            .contains("the project ID, access key or secret key is wrong"));
        assert!(!reply.text.contains(sk), "the secret key is never echoed");
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(browser.get("/console").await.location(), "/console/sign-in");
    server.stop().await;
}

/// A log sink for one test: the server runs on this test's thread, so a thread-local
/// subscriber sees everything it logs.
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_secret_key_and_the_session_token_reach_no_log() {
    let sink = LogSink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = TestServer::spawn().await;
    let c = server.client.clone();
    let (mut browser, csrf) = signed_in(&server, &c).await;
    let token = browser.session();
    // The SK typed into the wrong field must not be logged either.
    let mut stranger = Browser::new(&server.base);
    stranger
        .post(
            "/console/sign-in",
            &[
                ("project_id", c.project.as_str()),
                ("access_key", c.sk.as_str()),
                ("secret_key", "x"),
            ],
        )
        .await;
    browser
        .post("/console/sign-out", &[("_csrf", csrf.as_str())])
        .await;
    server.stop().await;
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("console sign-in"), "logging works: {logs}");
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(&c.sk)).collect();
    assert!(leaks.is_empty(), "the SK was logged: {leaks:?}");
    assert!(!logs.contains(&token), "the session token was logged");
    assert!(!logs.contains(&csrf), "the CSRF token was logged");
}

#[tokio::test]
async fn every_console_response_carries_the_security_headers() {
    let server = TestServer::spawn().await;
    let (mut browser, _) = signed_in(&server, &server.client).await;
    for path in [
        "/console/sign-in",
        "/console",
        "/console/upload",
        "/console/recycle-bin",
        "/console/no-such-page",
    ] {
        let page = browser.get(path).await;
        let header = |name: &str| {
            page.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        // No inline script: every <script> loads a file.
        for tag in page.text.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(
                open.contains(" src=\"/console/static/"),
                "{path}: <script{open}>"
            );
        }
        assert!(!page.text.contains(" style=\""), "{path}: inline style");
        assert!(!page.text.contains(" onclick="), "{path}: inline handler");
    }
    assert_eq!(browser.get("/console/no-such-page").await.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_or_from_another_site_changes_nothing() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&json!({"asset_name": "keep me", "asset_type": "IMAGE"}))
        .await;
    let (mut browser, csrf) = signed_in(&server, c).await;
    let path = format!("/console/assets/{id}/delete");
    assert_eq!(browser.post(&path, &[]).await.status, 403);
    assert_eq!(
        browser
            .post(&path, &[("_csrf", "0".repeat(64).as_str())])
            .await
            .status,
        403
    );
    // A correct token from another site is refused too.
    let cross = browser
        .http
        .post(format!("{}{path}", server.base))
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("_csrf", csrf.as_str())]);
    assert_eq!(browser.send(cross).await.status, 403);
    assert_eq!(c.show(&id).await["asset_state"], "CREATING");
    // And the real form works.
    let done = browser.post(&path, &[("_csrf", csrf.as_str())]).await;
    assert_eq!((done.status, done.location()), (303, "/console"));
    assert_eq!(c.show(&id).await["asset_state"], "DELETING");
    let page = browser.get("/console").await;
    assert!(page.text.contains("Moved to the recycle bin."));
    server.stop().await;
}

#[tokio::test]
async fn signing_out_revokes_the_session_token() {
    let server = TestServer::spawn().await;
    let (mut browser, csrf) = signed_in(&server, &server.client).await;
    let token = browser.session();
    let reply = browser
        .post("/console/sign-out", &[("_csrf", csrf.as_str())])
        .await;
    assert_eq!((reply.status, reply.location()), (303, "/console/sign-in"));
    assert!(!browser.cookies.contains_key("assetd_session"));
    // The old cookie no longer opens anything, in the console or the API.
    browser
        .cookies
        .insert("assetd_session".into(), token.clone());
    assert_eq!(browser.get("/console").await.location(), "/console/sign-in");
    let api = server
        .client
        .http()
        .get(format!(
            "{}/v1/{}/digital-assets",
            server.base, server.client.project
        ))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn without_a_session_pages_send_people_to_sign_in_and_htmx_too() {
    let server = TestServer::spawn().await;
    let mut browser = Browser::new(&server.base);
    assert_eq!(browser.get("/").await.location(), "/console");
    let page = browser.get("/console/upload").await;
    assert_eq!((page.status, page.location()), (303, "/console/sign-in"));
    let request = browser
        .http
        .get(format!("{}/console/library/cards?asset_id=x", server.base))
        .header("hx-request", "true");
    let page = browser.send(request).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["hx-redirect"], "/console/sign-in");
    server.stop().await;
}

#[tokio::test]
async fn the_console_api_takes_the_session_and_csrf_header_for_its_own_project_only() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let (mut browser, csrf) = signed_in(&server, c).await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let create = |browser: &Browser, project: &str, csrf: Option<&str>| {
        let mut request = browser
            .http
            .post(format!(
                "{}/console/api/v1/{project}/digital-assets",
                server.base
            ))
            .header("origin", format!("http://{host}"))
            .json(&json!({"asset_name": "from the page", "asset_type": "VIDEO"}));
        if let Some(token) = csrf {
            request = request.header("x-csrf-token", token);
        }
        request
    };
    let no_csrf = browser.send(create(&browser, &c.project, None)).await;
    assert_eq!(no_csrf.status, 403);
    let other = browser
        .send(create(&browser, "someone-else", Some(&csrf)))
        .await;
    assert_eq!(other.status, 403);
    assert!(other.text.contains("MSS.00010009"), "{}", other.text);
    let made = browser
        .send(create(&browser, &c.project, Some(&csrf)))
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let id = serde_json::from_str::<serde_json::Value>(&made.text).unwrap()["asset_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(c.show(&id).await["asset_name"], "from the page");
    // The API's rules hold: a bad body gets the API's error.
    let bad = browser
        .send(
            browser
                .http
                .post(format!(
                    "{}/console/api/v1/{}/digital-assets",
                    server.base, c.project
                ))
                .header("x-csrf-token", &csrf)
                .json(&json!({"asset_name": "x", "asset_type": "VOICE_MODEL"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    // Without a session: 401 in the API's shape.
    let mut stranger = Browser::new(&server.base);
    let anonymous = stranger
        .send(create(&stranger, &c.project, Some(&csrf)))
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.text.contains("MSS.00000001"));
    server.stop().await;
}

#[tokio::test]
async fn the_library_shows_filters_sorts_and_pages_what_the_api_lists() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for (name, kind, order) in [
        ("beach sunset", "IMAGE", 3),
        ("city night", "VIDEO", 1),
        ("Annual report", "PPT", 2),
    ] {
        c.create_asset(&json!({"asset_name": name, "asset_type": kind, "asset_order": order, "tags": ["demo"]}))
            .await;
    }
    let gone = c
        .create_asset(&json!({"asset_name": "binned", "asset_type": "IMAGE"}))
        .await;
    c.delete(&format!("/digital-assets/{gone}")).await.ok();
    let (mut browser, _) = signed_in(&server, c).await;
    let page = browser.get("/console").await;
    assert!(
        page.text.contains("of <strong>3</strong> assets"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("binned"),
        "the recycle bin is not the library"
    );
    // Names are searched; htmx asks for the results alone.
    let request = browser
        .http
        .get(format!("{}/console?q=sun", server.base))
        .header("hx-request", "true")
        .header("hx-target", "results");
    let results = browser.send(request).await;
    assert!(
        results.text.starts_with("<section id=\"results\""),
        "{}",
        results.text
    );
    assert!(results.text.contains("beach sunset"));
    assert!(!results.text.contains("city night"));
    let video = browser.get("/console?type=VIDEO").await;
    assert!(video.text.contains("city night") && !video.text.contains("beach sunset"));
    let order = |text: &str, names: [&str; 3]| {
        let at: Vec<usize> = names.iter().map(|n| text.find(n).unwrap()).collect();
        at.windows(2).all(|w| w[0] < w[1])
    };
    let by_name = browser.get("/console?sort=name").await.text;
    assert!(order(
        &by_name,
        ["Annual report", "beach sunset", "city night"]
    ));
    let by_order = browser.get("/console?sort=order").await.text;
    assert!(order(
        &by_order,
        ["city night", "Annual report", "beach sunset"]
    ));
    let newest = browser.get("/console").await.text;
    assert!(order(
        &newest,
        ["Annual report", "city night", "beach sunset"]
    ));
    // Processing assets are polled; the bin lists what was deleted.
    assert!(newest.contains("hx-trigger=\"every 2s\""));
    let bin = browser.get("/console/recycle-bin").await;
    assert!(bin.text.contains("binned") && !bin.text.contains("city night"));
    server.stop().await;
}

#[tokio::test]
async fn the_admin_page_is_for_admin_credentials_only() {
    let server = TestServer::spawn().await;
    let (mut browser, _) = signed_in(&server, &server.client).await;
    let page = browser.get("/console/admin").await;
    assert_eq!(page.status, 403);
    assert!(page.text.contains("this operation needs admin credentials"));
    assert!(!browser
        .get("/console")
        .await
        .text
        .contains("/console/admin"));
    let admin = server.new_client(true).await;
    let (mut browser, _) = signed_in(&server, &admin).await;
    let page = browser.get("/console/admin").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Review queue"));
    server.stop().await;
}

#[tokio::test]
async fn a_refused_form_comes_back_with_the_api_reason() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&json!({"asset_name": "draft", "asset_type": "IMAGE"}))
        .await;
    let (mut browser, csrf) = signed_in(&server, c).await;
    let path = format!("/console/assets/{id}/activation");
    let reply = browser
        .post(&path, &[("_csrf", csrf.as_str()), ("state", "ACTIVED")])
        .await;
    assert_eq!(reply.location(), format!("/console/assets/{id}"));
    let page = browser.get(&format!("/console/assets/{id}")).await;
    assert!(
        page.text.contains("its main file has not been uploaded"),
        "{}",
        page.text
    );
    // Shown once.
    let again = browser.get(&format!("/console/assets/{id}")).await;
    assert!(!again.text.contains("its main file has not been uploaded"));
    let details = browser
        .post(
            &format!("/console/assets/{id}/details"),
            &[
                ("_csrf", csrf.as_str()),
                ("asset_name", "final"),
                ("asset_description", "the one"),
                ("tags", "a, b"),
                ("asset_order", "7"),
            ],
        )
        .await;
    assert_eq!(details.status, 303);
    let shown = c.show(&id).await;
    assert_eq!(
        (&shown["asset_name"], &shown["asset_order"], &shown["tags"]),
        (&json!("final"), &json!(7), &json!(["a", "b"]))
    );
    server.stop().await;
}
