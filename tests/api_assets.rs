//! The catalogue API (API.md §2.1–2.8) through real signed HTTP: create, validation,
//! admin-only features, show, list filters and ordering, update, delete/restore, summaries,
//! batch actions and sharing.

mod common;

use assetd::catalog::Write;
use assetd::model::{AssetState, ReviewConfig};
use common::{Client, Reply, TestServer};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------
// Helpers

/// `base` with the top-level keys of `extra` set on it.
fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("extra is an object") {
        base[k] = v.clone();
    }
    base
}

fn image(name: &str) -> Value {
    json!({"asset_name": name, "asset_type": "IMAGE"})
}

fn typed(name: &str, asset_type: &str) -> Value {
    json!({"asset_name": name, "asset_type": asset_type})
}

fn meta(asset_type: &str, member: &str, value: Value) -> Value {
    json!({"asset_name": "m", "asset_type": asset_type, "asset_extra_meta": {member: value}})
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn x(n: usize) -> String {
    "x".repeat(n)
}

/// Asserts a 400 `MSS.00000003` whose message names `field`.
fn assert_invalid(reply: &Reply, field: &str) {
    let msg = reply.expect_error(400, "MSS.00000003");
    assert!(
        msg.contains(field),
        "error_msg {msg:?} should name the field {field}"
    );
}

async fn accepted(c: &Client, body: &Value) -> String {
    let reply = c.post("/digital-assets", body).await;
    assert_eq!(
        reply.status, 200,
        "expected the body to be accepted: {}",
        reply.json
    );
    reply.json["asset_id"]
        .as_str()
        .expect("asset_id")
        .to_owned()
}

async fn refused(c: &Client, body: &Value, field: &str) {
    let reply = c.post("/digital-assets", body).await;
    assert_invalid(&reply, field);
}

async fn list(c: &Client, query: &str) -> Value {
    let path = if query.is_empty() {
        "/digital-assets".to_owned()
    } else {
        format!("/digital-assets?{query}")
    };
    c.get(&path).await.ok().clone()
}

fn names(page: &Value) -> Vec<String> {
    page["assets"]
        .as_array()
        .expect("assets is an array")
        .iter()
        .map(|a| a["asset_name"].as_str().expect("asset_name").to_owned())
        .collect()
}

async fn listed(c: &Client, query: &str) -> Vec<String> {
    names(&list(c, query).await)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

async fn list_refused(c: &Client, query: &str, field: &str) {
    let reply = c.get(&format!("/digital-assets?{query}")).await;
    assert_invalid(&reply, field);
}

async fn state_of(c: &Client, id: &str) -> String {
    c.show(id).await["asset_state"]
        .as_str()
        .expect("asset_state")
        .to_owned()
}

/// Moves an asset to `state` directly in the catalogue (uploads are not built yet).
async fn force_state(server: &TestServer, id: &str, state: AssetState) {
    let mut asset = server
        .app
        .catalog
        .asset(id)
        .await
        .unwrap()
        .expect("asset exists");
    asset.asset_state = state;
    server
        .app
        .catalog
        .apply(Write {
            assets: vec![asset],
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn restore(c: &Client, id: &str) -> Reply {
    c.call("POST", &format!("/digital-assets/{id}/restore"), None)
        .await
}

async fn batch(c: &Client, body: Value) -> Value {
    c.post("/digital-assets/batch-action", &body)
        .await
        .ok()
        .clone()
}

fn parse_time(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("time is a string"), &Rfc3339).expect("RFC 3339")
}

// ---------------------------------------------------------------------------------------
// Create

#[tokio::test]
async fn every_create_field_round_trips_through_show() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let image_meta = json!({
        "codec": "png", "width": 1920, "height": 1080, "size": 123456,
        "mode": "Horizontal", "frame_rate": "25", "duration": 3
    });
    let shared = json!({
        "shared_type": "SHARED",
        "expire_time": "2099-01-10T00:00:00Z",
        "allowed_project_ids": ["other-project"]
    });
    let body = json!({
        "asset_name": "Background 1",
        "asset_description": "A sunny office",
        "asset_type": "IMAGE",
        "review_config": {"no_need_review": true},
        "tags": ["NEWS", "FULL_BODY", ""],
        "asset_extra_meta": {"image_meta": image_meta},
        "system_properties": [{"action": "ADD", "key": "BACKGROUND_IMG", "value": "Yes"}],
        "shared_config": shared,
        "is_need_generate_cover": true,
        "asset_order": 7,
        "supported_service": ["VIDEO_2D", "CHAT_2D"],
        "auto_operation_config": [{"operation": "DELETE", "operation_time": "2099-01-10T00:00:00Z"}]
    });
    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let reply = admin.post("/digital-assets", &body).await;
    let id = reply.ok()["asset_id"].as_str().unwrap().to_owned();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "asset_id {id} is a UUID"
    );

    let shown = admin.show(&id).await;
    assert_eq!(shown["asset_id"], id);
    assert_eq!(shown["project_id"], admin.project);
    assert_eq!(shown["asset_name"], "Background 1");
    assert_eq!(shown["asset_description"], "A sunny office");
    assert_eq!(shown["asset_type"], "IMAGE");
    assert_eq!(shown["asset_state"], "CREATING");
    assert_eq!(shown["tags"], json!(["NEWS", "FULL_BODY", ""]));
    assert_eq!(shown["asset_extra_meta"], json!({"image_meta": image_meta}));
    assert_eq!(
        shown["system_properties"],
        json!([{"key": "BACKGROUND_IMG", "value": "Yes"}])
    );
    assert_eq!(shown["shared_config"], shared);
    assert_eq!(shown["asset_order"], 7);
    assert_eq!(shown["supported_service"], json!(["VIDEO_2D", "CHAT_2D"]));
    assert_eq!(
        shown["auto_operation_config"],
        json!([{"operation": "DELETE", "operation_time": "2099-01-10T00:00:00Z"}])
    );
    assert_eq!(shown["files"], json!([]));
    let created = parse_time(&shown["create_time"]);
    assert!(created >= before, "create_time {created} before {before}");
    assert!(shown["create_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(shown["update_time"], shown["create_time"]);

    // review_config and is_need_generate_cover are input-only (not in DigitalAssetInfo).
    let stored = server.app.catalog.asset(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.review_config,
        Some(ReviewConfig {
            no_need_review: Some(true)
        })
    );
    assert!(stored.is_need_generate_cover);
}

#[tokio::test]
async fn a_minimal_asset_shows_empty_collections_and_no_optional_fields() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c.create_asset(&image("")).await;
    let shown = c.show(&id).await;
    assert_eq!(shown["asset_name"], "");
    assert_eq!(shown["tags"], json!([]));
    assert_eq!(shown["system_properties"], json!([]));
    assert_eq!(shown["supported_service"], json!([]));
    assert_eq!(shown["auto_operation_config"], json!([]));
    assert_eq!(shown["asset_extra_meta"], json!({}));
    assert!(shown.get("asset_order").is_none());
    assert!(shown.get("app_user_id").is_none());
}

#[tokio::test]
async fn voice_model_meta_defaults_are_filled_on_create() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let id = admin
        .create_asset(&meta(
            "VOICE_MODEL",
            "voice_model_meta",
            json!({"sex": "FEMALE", "voice_capability": {"is_support_ssml_sub": true}}),
        ))
        .await;
    let voice = &admin.show(&id).await["asset_extra_meta"]["voice_model_meta"];
    assert_eq!(
        *voice,
        json!({
            "order": 999,
            "model_type": "CLONE",
            "sex": "FEMALE",
            "language": "UNKNOW",
            "speed_ratio": 1.0,
            "volume_ratio": 1.0,
            "is_realtime_voice": true,
            "voice_capability": {
                "is_support_phoneme_en": false,
                "is_support_phoneme": false,
                "is_support_break_time": false,
                "is_support_break_strength": false,
                "is_support_speed": false,
                "is_support_prosody": false,
                "is_support_ssml_say_as": false,
                "is_support_ssml_sub": true,
                "is_support_word": false,
                "is_support_voice_cache": false,
                "conversion_rate": 0.0,
                "conversion_rate_en": 0.0,
                "is_support_srt": false
            },
            "is_support_vc_process": false,
            "is_support_thai_auto_split": false,
            "is_flexus": false,
            "is_enhance_rhythm": false
        })
    );
}

#[tokio::test]
async fn avatar_and_ppt_meta_defaults_are_filled_on_create() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let id = admin
        .create_asset(&meta(
            "HUMAN_MODEL_2D",
            "human_model_2d_meta",
            json!({"support_live": true}),
        ))
        .await;
    assert_eq!(
        admin.show(&id).await["asset_extra_meta"],
        json!({"human_model_2d_meta": {
            "is_action_editable": false,
            "is_live_copy": false,
            "is_real_background": false,
            "support_live": true,
            "model_version": "V2",
            "model_resolution": "1080P",
            "is_with_action_library": false,
            "is_flexus": false
        }})
    );
    let c = &server.client;
    let id = c.create_asset(&meta("PPT", "ppt_meta", json!({}))).await;
    assert_eq!(
        c.show(&id).await["asset_extra_meta"],
        json!({"ppt_meta": {"auto_analysis": false, "page_count": 0}})
    );
}

#[tokio::test]
async fn unmatched_sub_metas_are_ignored_even_when_invalid() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = accepted(
        c,
        &json!({
            "asset_name": "img",
            "asset_type": "IMAGE",
            "asset_extra_meta": {
                "image_meta": {"width": 10},
                "video_meta": {"width": 999_999},
                "ppt_meta": {"page_count": 9999},
                "voice_model_meta": {"speed_ratio": 500}
            }
        }),
    )
    .await;
    assert_eq!(
        c.show(&id).await["asset_extra_meta"],
        json!({"image_meta": {"width": 10}})
    );
    // A type without a member of its own keeps no meta at all.
    let id = accepted(
        c,
        &meta("COMMON_FILE", "ppt_meta", json!({"page_count": 3})),
    )
    .await;
    assert_eq!(c.show(&id).await["asset_extra_meta"], json!({}));
}

#[tokio::test]
async fn unknown_fields_are_ignored_at_every_level() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = accepted(
        c,
        &json!({
            "asset_name": "img",
            "asset_type": "IMAGE",
            "brand_new_field": {"x": [1, null]},
            "review_config": {"no_need_review": false, "future": 1},
            "asset_extra_meta": {"image_meta": {"width": 5, "hdr": true}, "future_meta": {}}
        }),
    )
    .await;
    let shown = c.show(&id).await;
    assert_eq!(
        shown["asset_extra_meta"],
        json!({"image_meta": {"width": 5}})
    );
    assert!(shown.get("brand_new_field").is_none());
}

#[tokio::test]
async fn business_card_template_alias_is_stored_as_business_card_templet() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&typed("card", "BUSINESS_CARD_TEMPLATE"))
        .await;
    assert_eq!(c.show(&id).await["asset_type"], "BUSINESS_CARD_TEMPLET");
    c.create_asset(&typed("other card", "BUSINESS_CARD_TEMPLET"))
        .await;
    c.create_asset(&image("img")).await;
    assert_eq!(
        listed(c, "asset_type=BUSINESS_CARD_TEMPLATE").await,
        strs(&["card", "other card"])
    );
    assert_eq!(
        listed(c, "asset_type=BUSINESS_CARD_TEMPLET").await,
        strs(&["card", "other card"])
    );
}

#[tokio::test]
async fn x_app_user_id_is_recorded_as_app_user_id() {
    let server = TestServer::spawn().await;
    let c = server.client.with_app_user("partner-user_01");
    let id = c.create_asset(&image("img")).await;
    assert_eq!(c.show(&id).await["app_user_id"], "partner-user_01");
    // Showing without the header does not change what was recorded.
    assert_eq!(
        server.client.show(&id).await["app_user_id"],
        "partner-user_01"
    );
}

#[tokio::test]
async fn x_app_user_id_with_chinese_characters_is_refused_with_400() {
    let server = TestServer::spawn().await;
    let c = server.client.with_app_user("用户1");
    let reply = c.post("/digital-assets", &image("img")).await;
    assert_invalid(&reply, "X-App-UserId");
    assert_eq!(list(&server.client, "").await["count"], 0);
}

// ---------------------------------------------------------------------------------------
// Validation (seed Table 3 and its nested tables)

#[tokio::test]
async fn asset_name_of_257_characters_is_refused_with_mss_00000003() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for unit in ["x", "名", "é", "𝄞"] {
        accepted(c, &image(&unit.repeat(256))).await;
        refused(c, &image(&unit.repeat(257)), "asset_name").await;
    }
    accepted(c, &image("")).await;
}

#[tokio::test]
async fn asset_description_of_4097_characters_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    accepted(
        c,
        &with(image("d"), json!({"asset_description": "é".repeat(4096)})),
    )
    .await;
    refused(
        c,
        &with(image("d"), json!({"asset_description": x(4097)})),
        "asset_description",
    )
    .await;
}

#[tokio::test]
async fn tag_of_129_characters_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    accepted(
        c,
        &with(image("t"), json!({"tags": ["", "名".repeat(128)]})),
    )
    .await;
    refused(
        c,
        &with(image("t"), json!({"tags": ["ok", x(129)]})),
        "tags[1]",
    )
    .await;
}

#[tokio::test]
async fn more_than_50_tags_are_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    accepted(c, &with(image("t"), json!({"tags": vec!["t"; 50]}))).await;
    refused(c, &with(image("t"), json!({"tags": vec!["t"; 51]})), "tags").await;
}

#[tokio::test]
async fn asset_order_outside_0_to_32767_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let order = |n: i64| with(image("o"), json!({"asset_order": n}));
    refused(c, &order(-1), "asset_order").await;
    accepted(c, &order(0)).await;
    accepted(c, &order(32767)).await;
    refused(c, &order(32768), "asset_order").await;
    refused(c, &order(3_000_000_000), "asset_order").await;
}

#[tokio::test]
async fn voice_speed_ratio_above_100_is_refused() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let voice = |v: Value| meta("VOICE_MODEL", "voice_model_meta", v);
    let at = "asset_extra_meta.voice_model_meta";
    accepted(&admin, &voice(json!({"speed_ratio": 100}))).await;
    refused(
        &admin,
        &voice(json!({"speed_ratio": 100.5})),
        &format!("{at}.speed_ratio"),
    )
    .await;
    accepted(&admin, &voice(json!({"volume_ratio": 0}))).await;
    refused(
        &admin,
        &voice(json!({"volume_ratio": -0.1})),
        &format!("{at}.volume_ratio"),
    )
    .await;
    refused(
        &admin,
        &voice(json!({"order": 32768})),
        &format!("{at}.order"),
    )
    .await;
    refused(
        &admin,
        &voice(json!({"voice_capability": {"conversion_rate": 50.5}})),
        &format!("{at}.voice_capability.conversion_rate"),
    )
    .await;
}

#[tokio::test]
async fn ppt_page_count_of_257_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let ppt = |v: Value| meta("PPT", "ppt_meta", v);
    accepted(c, &ppt(json!({"page_count": 256}))).await;
    refused(
        c,
        &ppt(json!({"page_count": 257})),
        "asset_extra_meta.ppt_meta.page_count",
    )
    .await;
    refused(
        c,
        &ppt(json!({"pages": [{"page_no": 1}, {"page_no": 0}]})),
        "asset_extra_meta.ppt_meta.pages[1].page_no",
    )
    .await;
}

#[tokio::test]
async fn seventeen_device_names_are_refused() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let avatar = |v: Value| meta("HUMAN_MODEL_2D", "human_model_2d_meta", v);
    let at = "asset_extra_meta.human_model_2d_meta.device_names";
    accepted(&admin, &avatar(json!({"device_names": vec!["d"; 16]}))).await;
    refused(&admin, &avatar(json!({"device_names": vec!["d"; 17]})), at).await;
    refused(
        &admin,
        &avatar(json!({"device_names": ["a", ""]})),
        &format!("{at}[1]"),
    )
    .await;
    refused(
        &admin,
        &avatar(json!({"device_names": [x(65)]})),
        &format!("{at}[0]"),
    )
    .await;
}

#[tokio::test]
async fn image_and_video_meta_ranges_are_enforced() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    accepted(c, &meta("IMAGE", "image_meta", json!({"width": 8196}))).await;
    refused(
        c,
        &meta("IMAGE", "image_meta", json!({"width": 8197})),
        "asset_extra_meta.image_meta.width",
    )
    .await;
    refused(
        c,
        &meta("VIDEO", "video_meta", json!({"duration": 86401})),
        "asset_extra_meta.video_meta.duration",
    )
    .await;
    refused(
        c,
        &meta("AUDIO", "audio_meta", json!({"audio_codec": x(33)})),
        "asset_extra_meta.audio_meta.audio_codec",
    )
    .await;
}

#[tokio::test]
async fn operation_time_that_is_not_rfc_3339_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let op = |t: &str| {
        with(
            image("op"),
            json!({"auto_operation_config": [{"operation": "BLOCK", "operation_time": t}]}),
        )
    };
    accepted(c, &op("2099-01-10T00:00:00Z")).await;
    accepted(c, &op("2099-01-10T08:00:00+08:00")).await;
    for bad in ["2025-01-10 00:00:00", "20250110T000000Z", "tomorrow", ""] {
        refused(c, &op(bad), "auto_operation_config[0].operation_time").await;
    }
    refused(
        c,
        &with(
            image("op"),
            json!({"auto_operation_config": [{"operation": "BLOCK"}]}),
        ),
        "auto_operation_config[0].operation_time",
    )
    .await;
}

#[tokio::test]
async fn shared_config_rules_are_enforced() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let shared = |v: Value| with(image("s"), json!({"shared_config": v}));
    refused(
        c,
        &shared(json!({"shared_type": "SHARED", "expire_time": "next week", "allowed_project_ids": ["p"]})),
        "shared_config.expire_time",
    )
    .await;
    refused(
        c,
        &shared(json!({"shared_type": "SHARED"})),
        "shared_config.allowed_project_ids",
    )
    .await;
    refused(
        c,
        &shared(json!({"shared_type": "PUBLIC"})),
        "shared_config.shared_type",
    )
    .await;
    let id = accepted(
        c,
        &shared(json!({"shared_type": "SHARED", "allowed_project_ids": ["p"]})),
    )
    .await;
    // The default expiry is 23:59:59 of the sharing day plus 30 days.
    let shown = c.show(&id).await;
    let expire = parse_time(&shown["shared_config"]["expire_time"]);
    let today = OffsetDateTime::now_utc();
    assert_eq!(expire.date(), today.date() + time::Duration::days(30));
    assert_eq!(
        (expire.hour(), expire.minute(), expire.second()),
        (23, 59, 59)
    );
}

#[tokio::test]
async fn wrong_json_types_are_refused_naming_the_field() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let cases = [
        (
            json!({"asset_name": 5, "asset_type": "IMAGE"}),
            "asset_name",
        ),
        (
            json!({"asset_name": null, "asset_type": "IMAGE"}),
            "asset_name",
        ),
        (json!({"asset_name": "a", "asset_type": 7}), "asset_type"),
        (with(image("a"), json!({"tags": "NEWS"})), "tags"),
        (with(image("a"), json!({"tags": ["a", 4]})), "tags[1]"),
        (with(image("a"), json!({"asset_order": "1"})), "asset_order"),
        (with(image("a"), json!({"asset_order": 1.5})), "asset_order"),
        (
            with(image("a"), json!({"is_need_generate_cover": "true"})),
            "is_need_generate_cover",
        ),
        (
            with(image("a"), json!({"review_config": []})),
            "review_config",
        ),
        (
            with(image("a"), json!({"asset_extra_meta": "meta"})),
            "asset_extra_meta",
        ),
        (
            meta("IMAGE", "image_meta", json!({"width": "wide"})),
            "asset_extra_meta.image_meta.width",
        ),
        (
            with(image("a"), json!({"supported_service": "VIDEO_2D"})),
            "supported_service",
        ),
    ];
    for (body, field) in cases {
        refused(c, &body, field).await;
    }
}

#[tokio::test]
async fn missing_required_fields_are_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    refused(c, &json!({"asset_type": "IMAGE"}), "asset_name").await;
    refused(c, &json!({"asset_name": "a"}), "asset_type").await;
    refused(
        c,
        &meta(
            "MATERIAL",
            "material_meta",
            json!({"components": [{"component_type": "HAIR"}]}),
        ),
        "asset_extra_meta.material_meta.components[0].component_name",
    )
    .await;
}

#[tokio::test]
async fn enum_misspellings_are_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let cases = [
        (typed("a", "video"), "asset_type"),
        (typed("a", "BUSINESS_CARD"), "asset_type"),
        (
            with(image("a"), json!({"supported_service": ["VIDEO_3D"]})),
            "supported_service[0]",
        ),
        (
            with(
                image("a"),
                json!({"auto_operation_config": [{"operation": "FREEZE", "operation_time": "2099-01-01T00:00:00Z"}]}),
            ),
            "auto_operation_config[0].operation",
        ),
        (
            with(
                image("a"),
                json!({"shared_config": {"shared_type": "shared"}}),
            ),
            "shared_config.shared_type",
        ),
        (
            meta("IMAGE", "image_meta", json!({"mode": "horizontal"})),
            "asset_extra_meta.image_meta.mode",
        ),
        (
            meta(
                "PPT",
                "ppt_meta",
                json!({"ppt_analysis_status": "CANCELLED"}),
            ),
            "asset_extra_meta.ppt_meta.ppt_analysis_status",
        ),
    ];
    for (body, field) in cases {
        refused(c, &body, field).await;
    }
    let admin = server.new_client(true).await;
    let voice = |v: Value| meta("VOICE_MODEL", "voice_model_meta", v);
    refused(
        &admin,
        &voice(json!({"sex": "male"})),
        "asset_extra_meta.voice_model_meta.sex",
    )
    .await;
    refused(
        &admin,
        &voice(json!({"languages": ["CN", "FR"]})),
        "asset_extra_meta.voice_model_meta.languages[1]",
    )
    .await;
    refused(
        &admin,
        &voice(json!({"external_voice_meta": {"provider": "GOOGLE"}})),
        "asset_extra_meta.voice_model_meta.external_voice_meta.provider",
    )
    .await;
    refused(
        &admin,
        &with(
            image("a"),
            json!({"system_properties": [{"key": "BACKGROUND", "value": "Yes"}]}),
        ),
        "system_properties[0].key",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_refused_with_mss_10000002() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let path = format!("/v1/{}/digital-assets", c.project);
    for body in [
        &b"{\"asset_name\": "[..],
        b"{\"asset_name\": \"a\", \"asset_type\": \"IMAGE\",}",
        b"not json",
        b"",
        b"[\"a\", \"IMAGE\"]",
        b"{\"asset_name\": \"a\", \"asset_type\": \"IMAGE\"} {}",
    ] {
        let reply = c.call_raw("POST", &path, Some(body), true).await;
        reply.expect_error(400, "MSS.10000002");
    }
    assert_eq!(list(c, "").await["count"], 0);
}

// ---------------------------------------------------------------------------------------
// Admin-only features

#[tokio::test]
async fn voice_model_and_human_model_2d_are_refused_for_a_normal_client() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for t in ["VOICE_MODEL", "HUMAN_MODEL_2D"] {
        refused(c, &typed("m", t), "asset_type").await;
    }
    assert_eq!(list(c, "").await["count"], 0);
}

#[tokio::test]
async fn voice_model_and_human_model_2d_are_accepted_for_an_admin_client() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    for t in ["VOICE_MODEL", "HUMAN_MODEL_2D"] {
        let id = admin.create_asset(&typed("m", t)).await;
        assert_eq!(admin.show(&id).await["asset_type"], t);
    }
}

#[tokio::test]
async fn system_properties_are_refused_for_a_normal_client_and_accepted_for_an_admin() {
    let server = TestServer::spawn().await;
    let body = with(
        image("bg"),
        json!({"system_properties": [{"key": "MATERIAL_IMG", "value": "Yes"}]}),
    );
    refused(&server.client, &body, "system_properties").await;
    let admin = server.new_client(true).await;
    let id = admin.create_asset(&body).await;
    assert_eq!(
        admin.show(&id).await["system_properties"],
        json!([{"key": "MATERIAL_IMG", "value": "Yes"}])
    );
    // An empty list asks for nothing reserved.
    accepted(
        &server.client,
        &with(image("plain"), json!({"system_properties": []})),
    )
    .await;
}

#[tokio::test]
async fn system_property_values_are_checked_for_admins_too() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let props = |p: Value| with(image("bg"), json!({"system_properties": p}));
    refused(
        &admin,
        &props(json!([{"key": "BACKGROUND_IMG", "value": ""}])),
        "system_properties[0].value",
    )
    .await;
    refused(
        &admin,
        &props(json!([{"key": "BACKGROUND_IMG", "value": "No"}])),
        "system_properties[0].value",
    )
    .await;
    refused(
        &admin,
        &props(json!(vec![
            json!({"key": "RENDER_ENGINE", "value": "MetaEngine"});
            51
        ])),
        "system_properties",
    )
    .await;
    accepted(
        &admin,
        &props(json!([{"key": "BACKGROUND_SCENE", "value": "Vertical"}])),
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Show

#[tokio::test]
async fn show_of_an_unknown_id_is_404_with_mss_10001001() {
    let server = TestServer::spawn().await;
    let reply = server
        .client
        .get(&format!("/digital-assets/{}", uuid::Uuid::new_v4()))
        .await;
    reply.expect_error(404, "MSS.10001001");
}

#[tokio::test]
async fn another_projects_asset_is_not_found() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let id = owner.create_asset(&image("mine")).await;
    let stranger = server.new_client(false).await;
    let path = format!("/digital-assets/{id}");
    stranger.get(&path).await.expect_error(404, "MSS.10001001");
    stranger
        .put(&path, &json!({"asset_name": "stolen"}))
        .await
        .expect_error(404, "MSS.10001001");
    stranger
        .delete(&path)
        .await
        .expect_error(404, "MSS.10001001");
    restore(&stranger, &id)
        .await
        .expect_error(404, "MSS.10001001");
    assert_eq!(listed(&stranger, "").await, Vec::<String>::new());
    assert_eq!(owner.show(&id).await["asset_name"], "mine");
    // Even an admin of another project only sees its own project.
    let admin = server.new_client(true).await;
    admin.get(&path).await.expect_error(404, "MSS.10001001");
}

// ---------------------------------------------------------------------------------------
// List

#[tokio::test]
async fn list_pages_with_limit_offset_and_a_total_count() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for i in 0..12 {
        c.create_asset(&image(&format!("a{i:02}"))).await;
    }
    let page = list(c, "").await;
    assert_eq!(page["count"], 12);
    assert_eq!(names(&page).len(), 10, "default limit is 10");
    let page = list(c, "limit=3&offset=2").await;
    assert_eq!(page["count"], 12);
    assert_eq!(names(&page), strs(&["a02", "a03", "a04"]));
    let page = list(c, "limit=5&offset=10").await;
    assert_eq!(names(&page), strs(&["a10", "a11"]));
    let page = list(c, "limit=5&offset=12").await;
    assert_eq!((page["count"].clone(), names(&page).len()), (json!(12), 0));
    assert_eq!(names(&list(c, "limit=100").await).len(), 12);
    assert_eq!(names(&list(c, "limit=1").await), strs(&["a00"]));
}

#[tokio::test]
async fn list_limit_0_and_101_are_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for q in ["limit=0", "limit=101", "limit=-1", "limit=ten"] {
        list_refused(c, q, "limit").await;
    }
    for q in ["offset=-1", "offset=2147483648", "offset=x"] {
        list_refused(c, q, "offset").await;
    }
}

#[tokio::test]
async fn list_name_is_fuzzy_unless_accurate_query_field_names_it() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    for name in [
        "Sara Model",
        "Sara",
        "Bob",
        "50% off",
        "500 off",
        "a_b",
        "axb",
    ] {
        c.create_asset(&image(name)).await;
    }
    assert_eq!(listed(c, "name=Sara").await, strs(&["Sara Model", "Sara"]));
    assert_eq!(listed(c, "name=ara").await, strs(&["Sara Model", "Sara"]));
    assert_eq!(
        listed(c, "name=Sara&accurate_query_field=name").await,
        strs(&["Sara"])
    );
    assert_eq!(
        listed(c, &format!("name={}", enc("Sara Model"))).await,
        strs(&["Sara Model"])
    );
    // LIKE wildcards in the search text are literal.
    assert_eq!(
        listed(c, &format!("name={}", enc("50%"))).await,
        strs(&["50% off"])
    );
    assert_eq!(listed(c, "name=a_b").await, strs(&["a_b"]));
    list_refused(
        c,
        "accurate_query_field=description",
        "accurate_query_field",
    )
    .await;
}

#[tokio::test]
async fn list_tags_are_fuzzy_or_exact_and_combine_by_union_or_intersection() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let tagged = |name: &str, tags: Value| with(image(name), json!({"tags": tags}));
    c.create_asset(&tagged("A", json!(["NEWS", "FULL_BODY"])))
        .await;
    c.create_asset(&tagged("B", json!(["NEWS_EXTRA"]))).await;
    c.create_asset(&tagged("C", json!(["SPORTS"]))).await;
    c.create_asset(&image("D")).await;

    assert_eq!(listed(c, "tag=NEWS").await, strs(&["A", "B"]));
    assert_eq!(
        listed(c, "tag=NEWS&accurate_query_field=tag").await,
        strs(&["A"])
    );
    // Several tags: UNION_SET (the default) keeps any match, INTERSECTION needs all.
    let exact = "accurate_query_field=tag";
    assert_eq!(
        listed(c, &format!("tag=NEWS,SPORTS&{exact}")).await,
        strs(&["A", "C"])
    );
    assert_eq!(
        listed(
            c,
            &format!("tag=NEWS,SPORTS&{exact}&tag_combination_type=UNION_SET")
        )
        .await,
        strs(&["A", "C"])
    );
    assert_eq!(
        listed(
            c,
            &format!("tag=NEWS,SPORTS&{exact}&tag_combination_type=INTERSECTION")
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        listed(
            c,
            &format!("tag=NEWS,FULL_BODY&{exact}&tag_combination_type=INTERSECTION")
        )
        .await,
        strs(&["A"])
    );
    assert_eq!(
        listed(c, "tag=NEWS,BODY&tag_combination_type=INTERSECTION").await,
        strs(&["A"])
    );
    // Repeated keys count like a comma list.
    assert_eq!(
        listed(c, &format!("tag=NEWS&tag=SPORTS&{exact}")).await,
        strs(&["A", "C"])
    );
    // accurate_query_field may also come as repeated keys naming both fields.
    assert_eq!(
        listed(
            c,
            "tag=NEWS&name=A&accurate_query_field=name&accurate_query_field=tag"
        )
        .await,
        strs(&["A"])
    );
    list_refused(
        c,
        "tag=NEWS&tag_combination_type=ALL",
        "tag_combination_type",
    )
    .await;
}

#[tokio::test]
async fn list_start_time_and_end_time_bound_the_creation_time() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let first = c.create_asset(&image("first")).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = c.create_asset(&image("second")).await;
    let t1 = parse_time(&c.show(&first).await["create_time"]);
    let t2 = parse_time(&c.show(&second).await["create_time"]);
    let fmt = |t: OffsetDateTime| enc(&t.format(&Rfc3339).unwrap());

    assert_eq!(
        listed(c, &format!("start_time={}", fmt(t2))).await,
        strs(&["second"])
    );
    let end = t1 + time::Duration::seconds(1);
    assert_eq!(
        listed(c, &format!("end_time={}", fmt(end))).await,
        strs(&["first"])
    );
    assert_eq!(
        listed(
            c,
            &format!(
                "start_time={}&end_time={}",
                fmt(t1 - time::Duration::seconds(1)),
                fmt(t2 + time::Duration::seconds(1))
            )
        )
        .await,
        strs(&["first", "second"])
    );
    // Offsets other than Z are understood.
    let in_china = t2.to_offset(time::macros::offset!(+8));
    assert_eq!(
        listed(c, &format!("start_time={}", fmt(in_china))).await,
        strs(&["second"])
    );
    list_refused(c, "start_time=2021-01-10", "start_time").await;
    list_refused(c, "end_time=yesterday", "end_time").await;
    list_refused(
        c,
        &format!(
            "start_time={}&end_time={}",
            fmt(t2),
            fmt(t1 - time::Duration::seconds(5))
        ),
        "start_time",
    )
    .await;
}

#[tokio::test]
async fn list_asset_type_and_asset_state_take_comma_separated_lists() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    c.create_asset(&typed("img", "IMAGE")).await;
    let video = c.create_asset(&typed("vid", "VIDEO")).await;
    let ppt = c.create_asset(&typed("ppt", "PPT")).await;
    c.delete(&format!("/digital-assets/{video}")).await.ok();
    force_state(&server, &ppt, AssetState::Unactived).await;

    assert_eq!(
        listed(c, "asset_type=IMAGE,VIDEO").await,
        strs(&["img", "vid"])
    );
    assert_eq!(
        listed(c, "asset_type=IMAGE&asset_type=PPT").await,
        strs(&["img", "ppt"])
    );
    assert_eq!(listed(c, "asset_type=MUSIC").await, Vec::<String>::new());
    // Legacy type names are accepted and match nothing.
    assert_eq!(listed(c, "asset_type=SCENE").await, Vec::<String>::new());
    assert_eq!(listed(c, "asset_state=CREATING").await, strs(&["img"]));
    assert_eq!(
        listed(c, "asset_state=CREATING,DELETING").await,
        strs(&["img", "vid"])
    );
    assert_eq!(
        listed(c, "asset_state=UNACTIVED&asset_state=DELETING").await,
        strs(&["vid", "ppt"])
    );
    assert_eq!(
        listed(c, "asset_type=IMAGE,PPT&asset_state=UNACTIVED").await,
        strs(&["ppt"])
    );
    // Without a filter every state is listed, the recycle bin included.
    assert_eq!(listed(c, "").await, strs(&["img", "vid", "ppt"]));
    list_refused(c, "asset_type=IMAGE,video", "asset_type").await;
    list_refused(c, "asset_state=ACTIVE", "asset_state").await;
}

#[tokio::test]
async fn list_asset_id_takes_repeated_keys_and_comma_lists() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = c.create_asset(&image("a")).await;
    let b = c.create_asset(&image("b")).await;
    c.create_asset(&image("c")).await;
    let other = server.new_client(false).await;
    let foreign = other.create_asset(&image("foreign")).await;

    assert_eq!(
        listed(c, &format!("asset_id={a}&asset_id={b}")).await,
        strs(&["a", "b"])
    );
    assert_eq!(
        listed(c, &format!("asset_id={a},{b}")).await,
        strs(&["a", "b"])
    );
    assert_eq!(
        listed(c, &format!("asset_id={b}&asset_id={foreign}")).await,
        strs(&["b"])
    );
    assert_eq!(
        listed(c, &format!("asset_id={}", enc(&format!("{a},{b}")))).await,
        strs(&["a", "b"])
    );
}

#[tokio::test]
async fn list_sorts_by_create_time_update_time_and_asset_order() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let ordered = |name: &str, order: Option<i64>| match order {
        Some(n) => with(image(name), json!({"asset_order": n})),
        None => image(name),
    };
    let a = c.create_asset(&ordered("A", Some(5))).await;
    c.create_asset(&ordered("B", Some(5))).await;
    c.create_asset(&ordered("C", Some(1))).await;
    c.create_asset(&ordered("D", None)).await;

    assert_eq!(listed(c, "").await, strs(&["A", "B", "C", "D"]));
    assert_eq!(
        listed(c, "sort_key=create_time&sort_dir=asc").await,
        strs(&["A", "B", "C", "D"])
    );
    assert_eq!(
        listed(c, "sort_key=create_time&sort_dir=desc").await,
        strs(&["D", "C", "B", "A"])
    );
    // Equal orders show the newest first, whatever the direction; no order goes last.
    assert_eq!(
        listed(c, "sort_key=asset_order&sort_dir=asc").await,
        strs(&["C", "B", "A", "D"])
    );
    assert_eq!(
        listed(c, "sort_key=asset_order&sort_dir=desc").await,
        strs(&["B", "A", "C", "D"])
    );

    c.put(
        &format!("/digital-assets/{a}"),
        &json!({"asset_description": "touched"}),
    )
    .await
    .ok();
    assert_eq!(
        listed(c, "sort_key=update_time&sort_dir=desc").await,
        strs(&["A", "D", "C", "B"])
    );
    assert_eq!(
        listed(c, "sort_key=update_time&sort_dir=asc").await,
        strs(&["B", "C", "D", "A"])
    );
    assert_eq!(
        listed(c, "sort_key=update_time&sort_dir=desc&limit=2&offset=1").await,
        strs(&["D", "C"])
    );
    list_refused(c, "sort_key=name", "sort_key").await;
    list_refused(c, "sort_dir=up", "sort_dir").await;
}

#[tokio::test]
async fn list_system_property_filter_matches_key_value_pairs() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let props = |name: &str, p: Value| with(image(name), json!({"system_properties": p}));
    admin
        .create_asset(&props(
            "bg",
            json!([{"key": "BACKGROUND_IMG", "value": "Yes"}]),
        ))
        .await;
    admin
        .create_asset(&props(
            "both",
            json!([
                {"key": "BACKGROUND_IMG", "value": "Yes"},
                {"key": "MATERIAL_IMG", "value": "Yes"}
            ]),
        ))
        .await;
    admin
        .create_asset(&props(
            "scene",
            json!([{"key": "BACKGROUND_SCENE", "value": "Horizontal"}]),
        ))
        .await;
    admin.create_asset(&image("plain")).await;

    let q = |v: &str| format!("system_property={}", enc(v));
    assert_eq!(
        listed(&admin, &q("BACKGROUND_IMG:Yes")).await,
        strs(&["bg", "both"])
    );
    assert_eq!(
        listed(&admin, &q("BACKGROUND_IMG:yes")).await,
        strs(&["bg", "both"])
    );
    assert_eq!(
        listed(&admin, &q("MATERIAL_IMG:Yes")).await,
        strs(&["both"])
    );
    assert_eq!(
        listed(&admin, &q("BACKGROUND_IMG:Yes,MATERIAL_IMG:Yes")).await,
        strs(&["both"])
    );
    assert_eq!(
        listed(&admin, &q("BACKGROUND_SCENE:Vertical")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        listed(&admin, &q("BACKGROUND_SCENE:Horizontal")).await,
        strs(&["scene"])
    );
    list_refused(&admin, &q("BACKGROUND_IMG"), "system_property").await;
    list_refused(&admin, &q("NOT_A_KEY:Yes"), "system_property").await;
}

#[tokio::test]
async fn list_supported_service_and_app_user_id_filters() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let serving = |name: &str, s: Value| with(image(name), json!({"supported_service": s}));
    c.with_app_user("u1")
        .create_asset(&serving("video", json!(["VIDEO_2D"])))
        .await;
    c.with_app_user("u2")
        .create_asset(&serving("live+chat", json!(["LIVE_2D", "CHAT_2D"])))
        .await;
    c.create_asset(&image("none")).await;

    assert_eq!(
        listed(c, "supported_service=LIVE_2D").await,
        strs(&["live+chat"])
    );
    assert_eq!(
        listed(c, "supported_service=VIDEO_2D").await,
        strs(&["video"])
    );
    assert_eq!(listed(c, "app_user_id=u1").await, strs(&["video"]));
    assert_eq!(listed(c, "app_user_id=u2").await, strs(&["live+chat"]));
    assert_eq!(listed(c, "app_user_id=u3").await, Vec::<String>::new());
    list_refused(c, "supported_service=VIDEO_3D", "supported_service").await;
}

#[tokio::test]
async fn list_voice_filters_select_voice_models() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let voice = |name: &str, m: Value| {
        json!({"asset_name": name, "asset_type": "VOICE_MODEL",
               "asset_extra_meta": {"voice_model_meta": m}})
    };
    admin
        .create_asset(&voice(
            "v-male-cn",
            json!({"sex": "MALE", "language": "CN"}),
        ))
        .await;
    admin
        .create_asset(&voice(
            "v-female-en",
            json!({"sex": "FEMALE", "language": "EN", "languages": ["EN", "fr"],
                   "is_realtime_voice": false, "external_voice_meta": {"provider": "MOBVOI"}}),
        ))
        .await;
    admin.create_asset(&voice("v-default", json!({}))).await;
    admin.create_asset(&typed("no-meta", "VOICE_MODEL")).await;
    admin.create_asset(&image("img")).await;

    assert_eq!(listed(&admin, "sex=MALE").await, strs(&["v-male-cn"]));
    assert_eq!(
        listed(&admin, "sex=MALE,FEMALE").await,
        strs(&["v-male-cn", "v-female-en"])
    );
    assert_eq!(
        listed(&admin, "sex=UNKNOW").await,
        strs(&["v-default", "no-meta"])
    );
    assert_eq!(listed(&admin, "language=CN").await, strs(&["v-male-cn"]));
    assert_eq!(listed(&admin, "language=fr").await, strs(&["v-female-en"]));
    assert_eq!(
        listed(&admin, "language=EN,CN").await,
        strs(&["v-male-cn", "v-female-en"])
    );
    assert_eq!(
        listed(&admin, "is_realtime_voice=false").await,
        strs(&["v-female-en"])
    );
    assert_eq!(
        listed(&admin, "is_realtime_voice=true").await,
        strs(&["v-male-cn", "v-default", "no-meta"])
    );
    assert_eq!(
        listed(&admin, "voice_provider=MOBVOI").await,
        strs(&["v-female-en"])
    );
    assert_eq!(
        listed(&admin, "voice_provider=HUAWEI_METASTUDIO").await,
        strs(&["v-male-cn", "v-default", "no-meta"])
    );
    assert_eq!(
        listed(&admin, "sex=FEMALE&is_realtime_voice=true").await,
        Vec::<String>::new()
    );
    list_refused(&admin, "sex=male", "sex").await;
    list_refused(&admin, "language=FR", "language").await;
    list_refused(&admin, "is_realtime_voice=yes", "is_realtime_voice").await;
    list_refused(&admin, "voice_provider=GOOGLE", "voice_provider").await;
}

#[tokio::test]
async fn list_avatar_filters_select_human_models() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let avatar = |name: &str, m: Value| {
        json!({"asset_name": name, "asset_type": "HUMAN_MODEL_2D",
               "asset_extra_meta": {"human_model_2d_meta": m}})
    };
    admin
        .create_asset(&avatar(
            "h-rich",
            json!({"is_action_editable": true, "is_with_action_library": true,
                   "model_version": "V3_2", "device_names": ["dev-a", "dev-b"]}),
        ))
        .await;
    admin.create_asset(&avatar("h-default", json!({}))).await;
    admin
        .create_asset(&avatar("h-dev-b", json!({"device_names": ["dev-b"]})))
        .await;
    admin.create_asset(&image("img")).await;

    assert_eq!(
        listed(&admin, "action_editable=true").await,
        strs(&["h-rich"])
    );
    assert_eq!(
        listed(&admin, "action_editable=false").await,
        strs(&["h-default", "h-dev-b"])
    );
    assert_eq!(
        listed(&admin, "is_with_action_library=true").await,
        strs(&["h-rich"])
    );
    assert_eq!(
        listed(&admin, "human_model_2d_version=V3_2").await,
        strs(&["h-rich"])
    );
    assert_eq!(
        listed(&admin, "human_model_2d_version=V2").await,
        strs(&["h-default", "h-dev-b"])
    );
    assert_eq!(
        listed(&admin, "include_device_name=dev-a").await,
        strs(&["h-rich"])
    );
    assert_eq!(
        listed(&admin, "include_device_name=dev-b").await,
        strs(&["h-rich", "h-dev-b"])
    );
    assert_eq!(
        listed(&admin, "exclude_device_name=dev-a").await,
        strs(&["h-default", "h-dev-b"])
    );
    assert_eq!(
        listed(
            &admin,
            "include_device_name=dev-b&exclude_device_name=dev-a"
        )
        .await,
        strs(&["h-dev-b"])
    );
    list_refused(&admin, "action_editable=maybe", "action_editable").await;
    list_refused(
        &admin,
        "human_model_2d_version=V4",
        "human_model_2d_version",
    )
    .await;
}

#[tokio::test]
async fn list_never_shows_other_projects_assets() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    c.create_asset(&image("mine")).await;
    let other = server.new_client(false).await;
    other.create_asset(&image("theirs")).await;
    assert_eq!(listed(c, "").await, strs(&["mine"]));
    assert_eq!(listed(&other, "").await, strs(&["theirs"]));
    assert_eq!(listed(c, "name=theirs").await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// Update

#[tokio::test]
async fn update_is_partial_and_unsent_fields_stay() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&with(
            image("before"),
            json!({"asset_description": "desc", "tags": ["t1"], "asset_order": 3,
                   "supported_service": ["LIVE_2D"],
                   "asset_extra_meta": {"image_meta": {"width": 10}}}),
        ))
        .await;
    let before = c.show(&id).await;
    let path = format!("/digital-assets/{id}");
    let reply = c.put(&path, &json!({"asset_name": "after"})).await;
    let updated = reply.ok().clone();
    assert_eq!(updated["asset_name"], "after");
    assert_eq!(updated["asset_id"], id);
    let shown = c.show(&id).await;
    assert_eq!(shown, updated, "the reply is the updated asset");
    for field in [
        "asset_description",
        "tags",
        "asset_order",
        "supported_service",
        "asset_extra_meta",
        "asset_type",
        "asset_state",
        "create_time",
    ] {
        assert_eq!(shown[field], before[field], "{field} must not change");
    }
    assert!(parse_time(&shown["update_time"]) >= parse_time(&before["update_time"]));

    let replaced = c
        .put(
            &path,
            &json!({"tags": ["t2", "t3"], "asset_order": 0, "supported_service": []}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(replaced["tags"], json!(["t2", "t3"]));
    assert_eq!(replaced["asset_order"], 0);
    assert_eq!(replaced["supported_service"], json!([]));
    assert_eq!(replaced["asset_name"], "after");
    // An empty body changes nothing.
    assert_eq!(
        c.put(&path, &json!({})).await.ok()["tags"],
        json!(["t2", "t3"])
    );
}

#[tokio::test]
async fn update_applies_the_same_validation_as_create() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&meta("PPT", "ppt_meta", json!({"page_count": 3})))
        .await;
    let path = format!("/digital-assets/{id}");
    let before = c.show(&id).await;
    let cases = [
        (json!({"asset_name": x(257)}), "asset_name"),
        (json!({"asset_description": x(4097)}), "asset_description"),
        (json!({"tags": [x(129)]}), "tags[0]"),
        (json!({"tags": vec!["t"; 51]}), "tags"),
        (json!({"asset_order": 32768}), "asset_order"),
        (json!({"asset_order": -1}), "asset_order"),
        (
            json!({"asset_extra_meta": {"ppt_meta": {"page_count": 257}}}),
            "asset_extra_meta.ppt_meta.page_count",
        ),
        (
            json!({"auto_operation_config": [{"operation": "DELETE", "operation_time": "soon"}]}),
            "auto_operation_config[0].operation_time",
        ),
        (json!({"asset_type": "VOICE_MODEL"}), "asset_type"),
        (json!({"asset_type": "video"}), "asset_type"),
        (json!({"asset_name": 5}), "asset_name"),
        (
            json!({"system_properties": [{"key": "MATERIAL_IMG", "value": "Yes"}]}),
            "system_properties",
        ),
    ];
    for (body, field) in cases {
        assert_invalid(&c.put(&path, &body).await, field);
    }
    assert_eq!(c.show(&id).await, before, "refused updates change nothing");
    let path_raw = format!("/v1/{}{path}", c.project);
    c.call_raw("PUT", &path_raw, Some(b"{\"asset_name\":"), true)
        .await
        .expect_error(400, "MSS.10000002");
    // Edge values pass, and members that do not match the type are ignored.
    let ok = c
        .put(
            &path,
            &json!({"asset_name": "名".repeat(256), "asset_order": 32767,
                    "asset_extra_meta": {"ppt_meta": {"page_count": 256}, "video_meta": {"width": -5}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        ok["asset_extra_meta"],
        json!({"ppt_meta": {"auto_analysis": false, "page_count": 256}})
    );
}

#[tokio::test]
async fn update_of_an_unknown_asset_is_404() {
    let server = TestServer::spawn().await;
    server
        .client
        .put(
            &format!("/digital-assets/{}", uuid::Uuid::new_v4()),
            &json!({"asset_name": "x"}),
        )
        .await
        .expect_error(404, "MSS.10001001");
}

#[tokio::test]
async fn update_merges_asset_extra_meta_field_by_field() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&meta(
            "PPT",
            "ppt_meta",
            json!({"auto_analysis": true, "page_count": 3}),
        ))
        .await;
    let updated = c
        .put(
            &format!("/digital-assets/{id}"),
            &json!({"asset_extra_meta": {"ppt_meta": {"page_count": 5}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        updated["asset_extra_meta"],
        json!({"ppt_meta": {"auto_analysis": true, "page_count": 5}})
    );

    let admin = server.new_client(true).await;
    let voice = admin
        .create_asset(&meta(
            "VOICE_MODEL",
            "voice_model_meta",
            json!({"sex": "MALE", "speed_ratio": 2.5, "languages": ["CN", "EN"]}),
        ))
        .await;
    let updated = admin
        .put(
            &format!("/digital-assets/{voice}"),
            &json!({"asset_extra_meta": {"voice_model_meta": {"sex": "FEMALE", "languages": ["fr"]}}}),
        )
        .await
        .ok()
        .clone();
    let m = &updated["asset_extra_meta"]["voice_model_meta"];
    assert_eq!(m["sex"], "FEMALE");
    assert_eq!(m["speed_ratio"], 2.5);
    assert_eq!(m["languages"], json!(["fr"]));
    assert_eq!(m["order"], 999);
}

#[tokio::test]
async fn asset_state_actived_or_unactived_is_refused_while_creating() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c.create_asset(&image("new")).await;
    let path = format!("/digital-assets/{id}");
    for state in ["ACTIVED", "UNACTIVED", "WAITING_DELETE"] {
        assert_invalid(
            &c.put(&path, &json!({"asset_state": state})).await,
            "CREATING",
        );
    }
    assert_eq!(state_of(c, &id).await, "CREATING");
    // System-managed states cannot be requested at all.
    for state in ["DELETED", "BLOCK", "FAILED", "CREATING"] {
        assert_invalid(
            &c.put(&path, &json!({"asset_state": state})).await,
            "asset_state",
        );
    }
}

#[tokio::test]
async fn asset_state_toggles_between_actived_and_unactived_once_uploaded() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c.create_asset(&image("uploaded")).await;
    force_state(&server, &id, AssetState::Unactived).await;
    let path = format!("/digital-assets/{id}");
    let set = |s: &'static str| json!({"asset_state": s});
    assert_eq!(
        c.put(&path, &set("ACTIVED")).await.ok()["asset_state"],
        "ACTIVED"
    );
    assert_eq!(
        c.put(&path, &set("ACTIVED")).await.ok()["asset_state"],
        "ACTIVED"
    );
    assert_eq!(
        c.put(&path, &set("WAITING_DELETE")).await.ok()["asset_state"],
        "WAITING_DELETE"
    );
    assert_eq!(
        c.put(&path, &set("UNACTIVED")).await.ok()["asset_state"],
        "UNACTIVED"
    );
    assert_invalid(&c.put(&path, &set("WAITING_DELETE")).await, "UNACTIVED");
    assert_eq!(state_of(c, &id).await, "UNACTIVED");
}

#[tokio::test]
async fn deleted_assets_cannot_be_updated() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c.create_asset(&image("gone")).await;
    let path = format!("/digital-assets/{id}");
    c.delete(&path).await.ok();
    assert_invalid(&c.put(&path, &json!({"asset_name": "x"})).await, "DELETING");
    assert_eq!(c.show(&id).await["asset_name"], "gone");
}

#[tokio::test]
async fn admin_adds_and_deletes_system_properties_on_update() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let id = admin
        .create_asset(&with(
            image("bg"),
            json!({"system_properties": [{"key": "BACKGROUND_IMG", "value": "Yes"}]}),
        ))
        .await;
    let path = format!("/digital-assets/{id}");
    let updated = admin
        .put(
            &path,
            &json!({"system_properties": [
                {"action": "ADD", "key": "MATERIAL_IMG", "value": "Yes"},
                {"key": "BACKGROUND_SCENE", "value": "Vertical"}
            ]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        updated["system_properties"],
        json!([
            {"key": "BACKGROUND_IMG", "value": "Yes"},
            {"key": "MATERIAL_IMG", "value": "Yes"},
            {"key": "BACKGROUND_SCENE", "value": "Vertical"}
        ])
    );
    let updated = admin
        .put(
            &path,
            &json!({"system_properties": [
                {"action": "DELETE", "key": "BACKGROUND_IMG"},
                {"action": "ADD", "key": "BACKGROUND_SCENE", "value": "Horizontal"}
            ]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        updated["system_properties"],
        json!([
            {"key": "MATERIAL_IMG", "value": "Yes"},
            {"key": "BACKGROUND_SCENE", "value": "Horizontal"}
        ])
    );
    assert_eq!(
        listed(
            &admin,
            &format!("system_property={}", enc("BACKGROUND_IMG:Yes"))
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        listed(
            &admin,
            &format!("system_property={}", enc("MATERIAL_IMG:Yes"))
        )
        .await,
        strs(&["bg"])
    );
    assert_invalid(
        &admin
            .put(
                &path,
                &json!({"system_properties": [{"action": "ADD", "key": "MATERIAL_VIDEO"}]}),
            )
            .await,
        "system_properties[0].value",
    );
}

// ---------------------------------------------------------------------------------------
// Delete and restore

#[tokio::test]
async fn soft_delete_moves_to_deleting_and_restore_returns_the_previous_state() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let creating = c.create_asset(&image("creating")).await;
    let unactived = c.create_asset(&image("unactived")).await;
    force_state(&server, &unactived, AssetState::Unactived).await;
    for (id, previous) in [(&creating, "CREATING"), (&unactived, "UNACTIVED")] {
        let path = format!("/digital-assets/{id}");
        let reply = c.delete(&path).await;
        reply.ok();
        assert!(reply.headers.contains_key("x-request-id"));
        assert_eq!(state_of(c, id).await, "DELETING");
        // Deleting again is harmless.
        c.delete(&path).await.ok();
        restore(c, id).await.ok();
        assert_eq!(state_of(c, id).await, previous);
    }
    // A mode other than force is refused, not taken for the recycle bin.
    c.delete(&format!("/digital-assets/{creating}?mode=soft"))
        .await
        .expect_error(400, "MSS.00000003");
    assert_eq!(state_of(c, &creating).await, "CREATING");
}

#[tokio::test]
async fn force_delete_is_permanent_and_cannot_be_restored() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c.create_asset(&image("doomed")).await;
    let path = format!("/digital-assets/{id}");
    c.delete(&format!("{path}?mode=force")).await.ok();
    assert_eq!(state_of(c, &id).await, "DELETED");
    assert_invalid(&restore(c, &id).await, "DELETED");
    assert_invalid(&c.delete(&path).await, "DELETED");
    assert_eq!(state_of(c, &id).await, "DELETED");
    // A soft-deleted asset can still be force-deleted.
    let other = c.create_asset(&image("binned")).await;
    c.delete(&format!("/digital-assets/{other}")).await.ok();
    c.delete(&format!("/digital-assets/{other}?mode=force"))
        .await
        .ok();
    assert_eq!(state_of(c, &other).await, "DELETED");
}

#[tokio::test]
async fn restore_of_a_non_deleted_asset_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c.create_asset(&image("alive")).await;
    assert_invalid(&restore(c, &id).await, "CREATING");
    restore(c, &uuid::Uuid::new_v4().to_string())
        .await
        .expect_error(404, "MSS.10001001");
    c.delete(&format!("/digital-assets/{}", uuid::Uuid::new_v4()))
        .await
        .expect_error(404, "MSS.10001001");
}

// ---------------------------------------------------------------------------------------
// Summaries

#[tokio::test]
async fn summaries_skip_unknown_ids_and_keep_the_request_order() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = c.create_asset(&image("a")).await;
    let b = c.create_asset(&typed("b", "VIDEO")).await;
    let foreign = server
        .new_client(false)
        .await
        .create_asset(&image("f"))
        .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let reply = c
        .post(
            "/digital-assets/summarys",
            &json!({"asset_ids": [b, unknown, foreign, a, b]}),
        )
        .await;
    assert_eq!(
        reply.ok()["asset_list"],
        json!([
            {"asset_id": b, "asset_name": "b", "asset_state": "CREATING", "asset_type": "VIDEO"},
            {"asset_id": a, "asset_name": "a", "asset_state": "CREATING", "asset_type": "IMAGE"}
        ])
    );
    let empty = c
        .post("/digital-assets/summarys", &json!({"asset_ids": []}))
        .await;
    assert_eq!(empty.ok()["asset_list"], json!([]));
    assert_invalid(
        &c.post("/digital-assets/summarys", &json!({})).await,
        "asset_ids",
    );
}

// ---------------------------------------------------------------------------------------
// Batch actions

fn result(status: &str, ids: &[&String]) -> Value {
    json!({"ret_status": status, "asset_ids": ids})
}

/// Splits results into the SUCCESS ids and the FAILED entries (ids, error_code).
fn outcomes(reply: &Value) -> (Vec<String>, Vec<(Vec<String>, String)>) {
    let mut success = Vec::new();
    let mut failed = Vec::new();
    for r in reply["results"].as_array().expect("results") {
        let ids: Vec<String> = r["asset_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        match r["ret_status"].as_str().unwrap() {
            "SUCCESS" => {
                assert!(r.get("error_info").is_none(), "{r}");
                assert!(success.is_empty(), "one SUCCESS entry: {reply}");
                success = ids;
            }
            "FAILED" => {
                let code = r["error_info"]["error_code"].as_str().unwrap().to_owned();
                assert!(code.starts_with("MSS."), "{r}");
                assert!(!r["error_info"]["error_msg"].as_str().unwrap().is_empty());
                failed.push((ids, code));
            }
            other => panic!("unexpected ret_status {other}"),
        }
    }
    (success, failed)
}

#[tokio::test]
async fn batch_delete_and_restore_group_results_by_outcome() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = c.create_asset(&image("a")).await;
    let b = c.create_asset(&image("b")).await;
    let alive = c.create_asset(&image("alive")).await;
    let unknown = uuid::Uuid::new_v4().to_string();

    let reply = batch(c, json!({"action": "DELETE", "asset_ids": [a, unknown, b]})).await;
    let (ok, failed) = outcomes(&reply);
    assert_eq!(ok, [a.clone(), b.clone()]);
    assert_eq!(failed, [(vec![unknown.clone()], "MSS.10001001".to_owned())]);
    assert_eq!(state_of(c, &a).await, "DELETING");
    assert_eq!(state_of(c, &b).await, "DELETING");

    let other = c.create_asset(&image("other")).await;
    let reply = batch(
        c,
        json!({"action": "RESTORE", "asset_ids": [a, alive, other, b]}),
    )
    .await;
    let (ok, failed) = outcomes(&reply);
    assert_eq!(ok, [a.clone(), b.clone()]);
    // Both failures have the same cause, so they share one entry.
    assert_eq!(
        failed,
        [(
            vec![alive.clone(), other.clone()],
            "MSS.00000003".to_owned()
        )]
    );
    assert_eq!(state_of(c, &a).await, "CREATING");

    // All successes give exactly one SUCCESS entry.
    let reply = batch(c, json!({"action": "DELETE", "asset_ids": [alive]})).await;
    assert_eq!(reply["results"], json!([result("SUCCESS", &[&alive])]));
}

#[tokio::test]
async fn batch_delete_force_is_permanent() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = c.create_asset(&image("a")).await;
    let b = c.create_asset(&image("b")).await;
    let reply = batch(c, json!({"action": "DELETE_FORCE", "asset_ids": [a, b]})).await;
    assert_eq!(reply["results"], json!([result("SUCCESS", &[&a, &b])]));
    assert_eq!(state_of(c, &a).await, "DELETED");
    let reply = batch(c, json!({"action": "RESTORE", "asset_ids": [a]})).await;
    let (ok, failed) = outcomes(&reply);
    assert!(ok.is_empty());
    assert_eq!(failed, [(vec![a.clone()], "MSS.00000003".to_owned())]);
    assert_eq!(state_of(c, &a).await, "DELETED");
}

#[tokio::test]
async fn batch_active_and_unactive_need_an_uploaded_asset() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let uploaded = c.create_asset(&image("uploaded")).await;
    force_state(&server, &uploaded, AssetState::Unactived).await;
    let creating = c.create_asset(&image("creating")).await;
    let foreign = server
        .new_client(false)
        .await
        .create_asset(&image("f"))
        .await;

    let reply = batch(
        c,
        json!({"action": "ACTIVE", "asset_ids": [creating, uploaded, foreign]}),
    )
    .await;
    let (ok, failed) = outcomes(&reply);
    assert_eq!(ok, [uploaded.as_str()]);
    assert_eq!(
        failed,
        [
            (vec![creating.clone()], "MSS.00000003".to_owned()),
            (vec![foreign.clone()], "MSS.10001001".to_owned())
        ]
    );
    assert_eq!(state_of(c, &uploaded).await, "ACTIVED");
    assert_eq!(state_of(c, &creating).await, "CREATING");

    let reply = batch(
        c,
        json!({"action": "UNACTIVE", "asset_ids": [uploaded, creating]}),
    )
    .await;
    let (ok, failed) = outcomes(&reply);
    assert_eq!(ok, [uploaded.as_str()]);
    assert_eq!(
        failed,
        [(vec![creating.clone()], "MSS.00000003".to_owned())]
    );
    assert_eq!(state_of(c, &uploaded).await, "UNACTIVED");
}

#[tokio::test]
async fn batch_share_and_unshare_change_who_can_see_the_asset() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let a = owner.create_asset(&image("shared")).await;
    let gone = owner.create_asset(&image("gone")).await;
    owner.delete(&format!("/digital-assets/{gone}")).await.ok();

    let params = json!({"allowed_project_ids": [sharee.project]}).to_string();
    let reply = batch(
        owner,
        json!({"action": "SHARE", "asset_ids": [a, gone], "params": params}),
    )
    .await;
    let (ok, failed) = outcomes(&reply);
    assert_eq!(ok, [a.as_str()]);
    assert_eq!(failed, [(vec![gone.clone()], "MSS.00000003".to_owned())]);
    let shown = owner.show(&a).await;
    assert_eq!(shown["shared_config"]["shared_type"], "SHARED");
    assert_eq!(
        shown["shared_config"]["allowed_project_ids"],
        json!([sharee.project])
    );
    assert_eq!(sharee.show(&a).await["asset_name"], "shared");

    let reply = batch(owner, json!({"action": "UNSHARE", "asset_ids": [a]})).await;
    assert_eq!(reply["results"], json!([result("SUCCESS", &[&a])]));
    sharee
        .get(&format!("/digital-assets/{a}"))
        .await
        .expect_error(404, "MSS.10001001");
}

#[tokio::test]
async fn batch_share_without_usable_params_is_refused() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = c.create_asset(&image("a")).await;
    let path = "/digital-assets/batch-action";
    assert_invalid(
        &c.post(path, &json!({"action": "SHARE", "asset_ids": [a]}))
            .await,
        "params",
    );
    assert_invalid(
        &c.post(
            path,
            &json!({"action": "SHARE", "asset_ids": [a], "params": "not json"}),
        )
        .await,
        "params",
    );
    assert_invalid(
        &c.post(
            path,
            &json!({"action": "SHARE", "asset_ids": [a], "params": "{\"allowed_project_ids\": []}"}),
        )
        .await,
        "allowed_project_ids",
    );
    assert_eq!(c.show(&a).await.get("shared_config"), None);
}

#[tokio::test]
async fn batch_request_rules_are_enforced() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let path = "/digital-assets/batch-action";
    assert_invalid(
        &c.post(path, &json!({"action": "DELETE", "asset_ids": []}))
            .await,
        "asset_ids",
    );
    assert_invalid(
        &c.post(path, &json!({"action": "PURGE", "asset_ids": ["a"]}))
            .await,
        "action",
    );
    assert_invalid(&c.post(path, &json!({"asset_ids": ["a"]})).await, "action");
    assert_invalid(
        &c.post(path, &json!({"action": "DELETE"})).await,
        "asset_ids",
    );
}

// ---------------------------------------------------------------------------------------
// Sharing

#[tokio::test]
async fn a_shared_asset_is_readable_but_not_writable_by_the_sharee() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let outsider = server.new_client(false).await;
    let id = owner.create_asset(&image("shared")).await;
    owner.create_asset(&image("private")).await;
    let params = json!({"allowed_project_ids": [sharee.project]}).to_string();
    batch(
        owner,
        json!({"action": "SHARE", "asset_ids": [id], "params": params}),
    )
    .await;
    let path = format!("/digital-assets/{id}");

    // The sharee sees it in show, in role=SHAREE listings and in summaries...
    assert_eq!(sharee.show(&id).await["project_id"], owner.project);
    assert_eq!(listed(&sharee, "role=SHAREE").await, strs(&["shared"]));
    assert_eq!(listed(&sharee, "").await, Vec::<String>::new());
    assert_eq!(
        sharee
            .post("/digital-assets/summarys", &json!({"asset_ids": [id]}))
            .await
            .ok()["asset_list"][0]["asset_id"],
        id
    );
    // ...and the owner in role=SHARER listings.
    assert_eq!(listed(owner, "role=SHARER").await, strs(&["shared"]));
    assert_eq!(listed(owner, "role=SHAREE").await, Vec::<String>::new());

    // The sharee cannot change it.
    sharee
        .put(&path, &json!({"asset_name": "mine now"}))
        .await
        .expect_error(403, "MSS.00000006");
    sharee.delete(&path).await.expect_error(403, "MSS.00000006");
    sharee
        .delete(&format!("{path}?mode=force"))
        .await
        .expect_error(403, "MSS.00000006");
    let reply = batch(&sharee, json!({"action": "DELETE", "asset_ids": [id]})).await;
    let (ok, failed) = outcomes(&reply);
    assert!(ok.is_empty());
    assert_eq!(failed, [(vec![id.clone()], "MSS.00000006".to_owned())]);
    let shown = owner.show(&id).await;
    assert_eq!(
        (shown["asset_name"].clone(), shown["asset_state"].clone()),
        (json!("shared"), json!("CREATING"))
    );

    // A project it is not shared with sees nothing.
    outsider.get(&path).await.expect_error(404, "MSS.10001001");
    outsider
        .put(&path, &json!({"asset_name": "x"}))
        .await
        .expect_error(404, "MSS.10001001");
    assert_eq!(listed(&outsider, "role=SHAREE").await, Vec::<String>::new());
}

#[tokio::test]
async fn sharing_through_create_and_update_shared_config() {
    let server = TestServer::spawn().await;
    let owner = &server.client;
    let sharee = server.new_client(false).await;
    let id = owner
        .create_asset(&with(
            image("from create"),
            json!({"shared_config": {"shared_type": "SHARED", "allowed_project_ids": [sharee.project]}}),
        ))
        .await;
    assert_eq!(sharee.show(&id).await["asset_name"], "from create");

    let path = format!("/digital-assets/{id}");
    owner
        .put(&path, &json!({"shared_config": {"shared_type": "PRIVATE"}}))
        .await
        .ok();
    sharee.get(&path).await.expect_error(404, "MSS.10001001");
    assert_eq!(listed(&sharee, "role=SHAREE").await, Vec::<String>::new());

    // An expired share is not visible.
    owner
        .put(
            &path,
            &json!({"shared_config": {"shared_type": "SHARED", "expire_time": "2020-01-01T00:00:00Z",
                                      "allowed_project_ids": [sharee.project]}}),
        )
        .await
        .ok();
    sharee.get(&path).await.expect_error(404, "MSS.10001001");
    assert_eq!(listed(&sharee, "role=SHAREE").await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// More edges

#[tokio::test]
async fn concurrent_updates_of_one_asset_are_not_lost() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let id = admin.create_asset(&image("busy")).await;
    let keys = [
        "BACKGROUND_IMG",
        "CREATED_BY_PLATFORM",
        "MEITUAN_MATERIAL_APPROVED",
        "IS_CONTROLLED",
        "LIVE_IS_AUTHORIZED",
        "VIDEO_IS_AUTHORIZED",
        "CHAT_IS_AUTHORIZED",
        "MATERIAL_IMG",
    ];
    let tasks: Vec<_> = keys
        .iter()
        .map(|key| {
            let admin = admin.clone();
            let path = format!("/digital-assets/{id}");
            let body =
                json!({"system_properties": [{"action": "ADD", "key": key, "value": "Yes"}]});
            tokio::spawn(async move { admin.put(&path, &body).await.status })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let shown = admin.show(&id).await;
    let mut stored: Vec<&str> = shown["system_properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    stored.sort_unstable();
    let mut expected = keys.to_vec();
    expected.sort_unstable();
    assert_eq!(stored, expected, "every concurrent ADD survived");
}

#[tokio::test]
async fn public_assets_are_listed_as_system_assets_and_are_read_only_for_others() {
    let server = TestServer::spawn().await;
    let admin = server.new_client(true).await;
    let id = admin
        .create_asset(&with(
            image("system bg"),
            json!({"shared_config": {"shared_type": "PUBLIC"}}),
        ))
        .await;
    let c = &server.client;
    c.create_asset(&image("own")).await;
    assert_eq!(listed(c, "").await, strs(&["own"]));
    assert_eq!(
        listed(c, "asset_source=CUSTOMIZATION").await,
        strs(&["own"])
    );
    assert_eq!(listed(c, "asset_source=SYSTEM").await, strs(&["system bg"]));
    assert_eq!(
        listed(c, "asset_source=ALL").await,
        strs(&["system bg", "own"])
    );
    assert_eq!(c.show(&id).await["asset_name"], "system bg");
    let path = format!("/digital-assets/{id}");
    c.put(&path, &json!({"asset_name": "mine"}))
        .await
        .expect_error(403, "MSS.00000006");
    c.delete(&path).await.expect_error(403, "MSS.00000006");
    list_refused(c, "asset_source=EVERYTHING", "asset_source").await;
}

#[tokio::test]
async fn asset_type_can_change_only_while_creating() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&meta("IMAGE", "image_meta", json!({"width": 5})))
        .await;
    let path = format!("/digital-assets/{id}");
    let changed = c
        .put(
            &path,
            &json!({"asset_type": "VIDEO", "asset_extra_meta": {"video_meta": {"width": 7}}}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(changed["asset_type"], "VIDEO");
    assert_eq!(
        changed["asset_extra_meta"],
        json!({"video_meta": {"width": 7}})
    );
    force_state(&server, &id, AssetState::Unactived).await;
    assert_invalid(
        &c.put(&path, &json!({"asset_type": "IMAGE"})).await,
        "asset_type",
    );
    // Naming the current type is not a change.
    c.put(
        &path,
        &json!({"asset_type": "VIDEO", "asset_name": "same type"}),
    )
    .await
    .ok();
    assert_eq!(c.show(&id).await["asset_type"], "VIDEO");
}

#[tokio::test]
async fn batch_and_summary_ids_are_deduplicated_and_capped_at_1000() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let a = c.create_asset(&image("a")).await;
    let reply = batch(c, json!({"action": "DELETE", "asset_ids": [a, a]})).await;
    assert_eq!(reply["results"], json!([result("SUCCESS", &[&a])]));
    let many: Vec<String> = (0..1001).map(|i| format!("id-{i}")).collect();
    assert_invalid(
        &c.post(
            "/digital-assets/batch-action",
            &json!({"action": "DELETE", "asset_ids": many}),
        )
        .await,
        "asset_ids",
    );
    assert_invalid(
        &c.post("/digital-assets/summarys", &json!({"asset_ids": many}))
            .await,
        "asset_ids",
    );
    let reply = c
        .post(
            "/digital-assets/summarys",
            &json!({"asset_ids": many[..1000]}),
        )
        .await;
    assert_eq!(reply.ok()["asset_list"], json!([]));
}

#[tokio::test]
async fn x_app_user_id_longer_than_256_characters_is_refused() {
    let server = TestServer::spawn().await;
    let ok = server.client.with_app_user(&x(256));
    ok.create_asset(&image("ok")).await;
    let long = server.client.with_app_user(&x(257));
    assert_invalid(
        &long.post("/digital-assets", &image("long")).await,
        "X-App-UserId",
    );
}

#[tokio::test]
async fn list_name_search_understands_non_ascii_text() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    c.create_asset(&image("数字人主播")).await;
    c.create_asset(&image("Ünïcode")).await;
    c.create_asset(&image("plain")).await;
    assert_eq!(
        listed(c, &format!("name={}", enc("数字"))).await,
        strs(&["数字人主播"])
    );
    assert_eq!(
        listed(c, &format!("name={}", enc("nïc"))).await,
        strs(&["Ünïcode"])
    );
}

#[tokio::test]
async fn nul_characters_are_refused_in_bodies_and_queries_and_find_nothing_in_paths() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    assert_invalid(
        &c.post("/digital-assets", &image("before\u{0}after")).await,
        "asset_name",
    );
    let id = c.create_asset(&image("fine")).await;
    assert_invalid(
        &c.put(
            &format!("/digital-assets/{id}"),
            &json!({"tags": ["ok", "b\u{0}d"]}),
        )
        .await,
        "tags[1]",
    );
    c.get("/digital-assets?name=a%00b")
        .await
        .expect_error(400, "MSS.00000003");
    c.get("/digital-assets/x%00y")
        .await
        .expect_error(404, "MSS.10001001");
    assert_eq!(listed(c, "").await, strs(&["fine"]));
}
