//! The contract every [`Catalog`] backend must keep. Each check is a plain async function
//! over `Arc<dyn Catalog>`; `on_both_backends!` runs all of them on a fresh SQLite file, and
//! on a fresh PostgreSQL database when `ASSETD_TEST_DATABASE_URL` names a server
//! (`scripts/test.sh` starts one; skipped otherwise).

#[macro_use]
#[path = "common/postgres.rs"]
#[allow(dead_code)]
mod test_postgres;

use std::sync::Arc;

use assetd::catalog::{
    Asset, AssetQuery, AssetSource, BlobState, Catalog, CatalogError, Credential, FileRecord,
    JobCounts, JobOutcome, Lane, NewJob, ProjectUsage, Quota, ShareRole, SortKey, StoredBlob,
    TextMatch, Token, Write,
};
use assetd::model::{
    AssetExtraMeta, AssetSharedConfig, AssetState, AssetType, AutoOperation, AutoOperationConfig,
    ExternalVoiceAssetMeta, ExternalVoiceProvider, FailType, FileCategory, FileState,
    HumanModel2DAssetMeta, HumanModelVersion, ReviewConfig, SharedType, SupportedService,
    SystemProperty, SystemPropertyKey, TranscodingStatus, VoiceLanguage, VoiceModelAssetMeta,
    VoiceSex,
};
use secrecy::ExposeSecret;
use time::{Duration, OffsetDateTime};

type Cat = Arc<dyn Catalog>;

on_both_backends!(
    credentials_are_stored_found_and_replaced,
    tokens_are_stored_found_by_hash_and_revoked,
    a_server_secret_is_created_once_and_stays_stable,
    an_inserted_asset_round_trips_every_field,
    several_assets_are_fetched_by_id_skipping_unknown_ones,
    an_update_bumps_the_version_and_is_what_readers_see,
    a_second_writer_with_the_same_version_conflicts_and_writes_nothing,
    updating_an_unknown_asset_conflicts,
    apply_is_atomic_when_a_later_item_conflicts,
    apply_is_atomic_when_a_file_breaks_a_unique_rule,
    an_asset_id_is_unique,
    an_asset_has_at_most_one_live_main_file,
    an_asset_has_at_most_one_live_cover_file,
    a_file_round_trips_and_its_updates_are_versioned,
    files_of_returns_the_files_of_the_given_assets_oldest_first,
    list_is_scoped_to_the_project_and_pages_with_a_total_count,
    list_filters_by_name_fuzzily_or_exactly,
    list_filters_by_tags_any_or_all,
    list_filters_by_time_type_state_and_id,
    list_filters_by_system_property_service_and_app_user,
    list_filters_by_voice_and_avatar_meta,
    list_orders_by_create_time_update_time_asset_order_and_name,
    list_follows_share_roles_and_sources,
    list_sees_updated_tags_and_shares,
    each_period_of_a_periodic_task_is_claimed_once,
    credentials_are_listed_without_secrets_and_deleted_with_their_tokens,
    stats_count_jobs_by_kind_assets_by_state_and_the_review_queue,
    a_running_job_reports_progress_until_it_is_claimed_again,
    identical_content_is_stored_once_and_released_with_its_last_reference,
    a_file_cannot_refer_to_bytes_that_are_not_stored,
    recording_a_write_whose_lease_was_taken_fails_and_writes_nothing,
    blob_writes_are_leased_renewed_and_claimed_once,
    a_damaged_copy_is_replaced_by_fresh_identical_bytes_for_every_file,
    scrub_verdicts_are_recorded_and_reported_with_their_files,
    quotas_are_stored_and_a_write_past_one_is_refused_whole,
    claims_take_only_the_lanes_asked_for,
);

// ---------------------------------------------------------------------------------------
// Builders

fn fresh() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A whole-second time `secs` from a fixed base, so stored times compare exactly.
fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_750_000_000 + secs).unwrap()
}

fn asset(project: &str, name: &str) -> Asset {
    Asset {
        asset_id: uuid::Uuid::new_v4().to_string(),
        project_id: project.to_owned(),
        asset_name: name.to_owned(),
        asset_description: None,
        app_user_id: None,
        asset_type: AssetType::Image,
        asset_state: AssetState::Creating,
        state_before_delete: None,
        state_before_block: None,
        fail_type: None,
        block_reason_code: None,
        reason: None,
        tags: Vec::new(),
        asset_extra_meta: AssetExtraMeta::default(),
        system_properties: Vec::new(),
        asset_order: None,
        supported_service: Vec::new(),
        auto_operation_config: Vec::new(),
        shared_config: None,
        review_config: None,
        is_need_generate_cover: false,
        create_time: at(0),
        update_time: at(0),
        deleted_at: None,
        version: 1,
    }
}

/// An asset created `secs` after the base time.
fn asset_at(project: &str, name: &str, secs: i64) -> Asset {
    Asset {
        create_time: at(secs),
        update_time: at(secs),
        ..asset(project, name)
    }
}

/// A file record with only the fields every version of the record has; built through its
/// JSON form so that fields added later (all `#[serde(default)]`) take their defaults.
fn file(asset: &Asset, category: FileCategory, state: FileState, secs: i64) -> FileRecord {
    let time = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut record: FileRecord = serde_json::from_value(serde_json::json!({
        "file_id": uuid::Uuid::new_v4().to_string(),
        "asset_id": asset.asset_id,
        "project_id": asset.project_id,
        "file_name": "main.png",
        "file_md5": null,
        "file_size": 10,
        "file_type": "png",
        "asset_file_category": category,
        "state": state,
        "reason": null,
        "block_reason_code": null,
        "multipart_count": null,
        "blob_key": null,
        "video_transcoding_status": null,
        "create_time": time(at(secs)),
        "update_time": time(at(secs)),
    }))
    .expect("a file record");
    record.version = 1;
    record
}

async fn insert(c: &Cat, assets: Vec<Asset>) {
    c.apply(Write {
        new_assets: assets,
        ..Write::default()
    })
    .await
    .expect("insert");
}

async fn update(c: &Cat, asset: Asset) -> Result<(), CatalogError> {
    c.apply(Write {
        assets: vec![asset],
        ..Write::default()
    })
    .await
}

async fn insert_file(c: &Cat, f: FileRecord) -> Result<(), CatalogError> {
    c.apply(Write {
        new_files: vec![f],
        ..Write::default()
    })
    .await
}

async fn get(c: &Cat, id: &str) -> Asset {
    c.asset(id).await.unwrap().expect("asset exists")
}

fn query(project: &str) -> AssetQuery {
    AssetQuery {
        project_id: project.to_owned(),
        now: Some(OffsetDateTime::now_utc()),
        limit: 100,
        ..AssetQuery::default()
    }
}

async fn names(c: &Cat, q: AssetQuery) -> Vec<String> {
    let page = c.list_assets(&q).await.expect("list");
    page.assets.into_iter().map(|a| a.asset_name).collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn fuzzy(text: &str) -> TextMatch {
    TextMatch {
        text: text.to_owned(),
        exact: false,
    }
}

fn exact(text: &str) -> TextMatch {
    TextMatch {
        text: text.to_owned(),
        exact: true,
    }
}

fn shared_with(projects: &[&str], expire: Option<OffsetDateTime>) -> Option<AssetSharedConfig> {
    Some(AssetSharedConfig {
        shared_type: Some(SharedType::Shared),
        expire_time: expire.map(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        }),
        allowed_project_ids: Some(projects.iter().map(|p| (*p).to_owned()).collect()),
    })
}

// ---------------------------------------------------------------------------------------
// Credentials, tokens, secrets

async fn credentials_are_stored_found_and_replaced(c: Cat) {
    let ak = format!("AK{}", fresh());
    assert!(c.credential(&ak).await.unwrap().is_none());
    c.put_credential(&Credential {
        access_key: ak.clone(),
        secret_key: "first-secret".to_owned().into(),
        project_id: "p1".to_owned(),
        is_admin: false,
    })
    .await
    .unwrap();
    let found = c.credential(&ak).await.unwrap().expect("stored");
    assert_eq!(found.access_key, ak);
    assert_eq!(found.secret_key.expose_secret(), "first-secret");
    assert_eq!(found.project_id, "p1");
    assert!(!found.is_admin);

    c.put_credential(&Credential {
        access_key: ak.clone(),
        secret_key: "second-secret".to_owned().into(),
        project_id: "p2".to_owned(),
        is_admin: true,
    })
    .await
    .unwrap();
    let found = c.credential(&ak).await.unwrap().expect("stored");
    assert_eq!(found.secret_key.expose_secret(), "second-secret");
    assert_eq!(found.project_id, "p2");
    assert!(found.is_admin);
    // Keys are case-sensitive.
    assert!(c.credential(&ak.to_lowercase()).await.unwrap().is_none());
}

async fn tokens_are_stored_found_by_hash_and_revoked(c: Cat) {
    let hash = fresh();
    assert!(c.token(&hash).await.unwrap().is_none());
    let token = Token {
        token_hash: hash.clone(),
        access_key: "AK".to_owned(),
        project_id: "p".to_owned(),
        is_admin: true,
        expires_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + Duration::HOUR,
        secret_fingerprint: "f1".to_owned(),
    };
    c.put_token(&token).await.unwrap();
    let found = c.token(&hash).await.unwrap().expect("stored");
    assert_eq!(found.token_hash, hash);
    assert_eq!(found.access_key, "AK");
    assert_eq!(found.project_id, "p");
    assert!(found.is_admin);
    assert_eq!(found.expires_at, token.expires_at);
    assert_eq!(found.secret_fingerprint, "f1");
    assert!(c.token(&fresh()).await.unwrap().is_none());
    // A second token does not disturb the first.
    let other = Token {
        token_hash: fresh(),
        is_admin: false,
        ..token.clone()
    };
    c.put_token(&other).await.unwrap();
    assert!(c.token(&hash).await.unwrap().unwrap().is_admin);
    assert!(!c.token(&other.token_hash).await.unwrap().unwrap().is_admin);
    // Revoking one leaves the other.
    assert!(c.delete_token(&hash).await.unwrap());
    assert!(c.token(&hash).await.unwrap().is_none());
    assert!(!c.delete_token(&hash).await.unwrap());
    assert!(c.token(&other.token_hash).await.unwrap().is_some());
}

async fn a_server_secret_is_created_once_and_stays_stable(c: Cat) {
    let name = format!("secret-{}", fresh());
    let first = c.server_secret(&name, b"first value").await.unwrap();
    assert_eq!(first, b"first value");
    let again = c.server_secret(&name, b"another value").await.unwrap();
    assert_eq!(again, b"first value");
    let other = c
        .server_secret(&format!("{name}-2"), b"another value")
        .await
        .unwrap();
    assert_eq!(other, b"another value");
    // Concurrent first uses agree on one value.
    let name = format!("secret-{}", fresh());
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let c = c.clone();
            let name = name.clone();
            tokio::spawn(async move { c.server_secret(&name, &[i; 32]).await.unwrap() })
        })
        .collect();
    let mut values = Vec::new();
    for t in tasks {
        values.push(t.await.unwrap());
    }
    assert!(values.windows(2).all(|w| w[0] == w[1]), "{values:?}");
}

// ---------------------------------------------------------------------------------------
// Assets and versions

fn every_field(project: &str) -> Asset {
    Asset {
        asset_id: uuid::Uuid::new_v4().to_string(),
        project_id: project.to_owned(),
        asset_name: "名字 with ünïcode".to_owned(),
        asset_description: Some("description".to_owned()),
        app_user_id: Some("user-1".to_owned()),
        asset_type: AssetType::VoiceModel,
        asset_state: AssetState::Block,
        state_before_delete: Some(AssetState::Actived),
        state_before_block: Some(AssetState::Unactived),
        fail_type: Some(FailType::ManualReviewReject),
        block_reason_code: Some("R1".to_owned()),
        reason: Some("frozen".to_owned()),
        tags: vec!["NEWS".to_owned(), "".to_owned(), "NEWS".to_owned()],
        asset_extra_meta: AssetExtraMeta {
            voice_model_meta: Some(VoiceModelAssetMeta {
                order: Some(3),
                sex: Some(VoiceSex::Female),
                language: Some(VoiceLanguage::Fr),
                languages: Some(vec![VoiceLanguage::Fr, VoiceLanguage::Kr]),
                speed_ratio: Some(1.25),
                external_voice_meta: Some(ExternalVoiceAssetMeta {
                    provider: ExternalVoiceProvider::Mobvoi,
                }),
                ..VoiceModelAssetMeta::default()
            }),
            ..AssetExtraMeta::default()
        },
        system_properties: vec![SystemProperty {
            action: None,
            key: Some(SystemPropertyKey::BackgroundImg),
            value: Some("Yes".to_owned()),
        }],
        asset_order: Some(32767),
        supported_service: vec![SupportedService::Live2D, SupportedService::Chat2D],
        auto_operation_config: vec![AutoOperationConfig {
            operation: Some(AutoOperation::Delete),
            operation_time: Some("2099-01-10T00:00:00Z".to_owned()),
        }],
        shared_config: shared_with(&["p-a", "p-b"], Some(at(86_400))),
        review_config: Some(ReviewConfig {
            no_need_review: Some(true),
        }),
        is_need_generate_cover: true,
        create_time: OffsetDateTime::now_utc(),
        update_time: OffsetDateTime::now_utc() + Duration::seconds(1),
        deleted_at: Some(at(5)),
        version: 1,
    }
}

async fn an_inserted_asset_round_trips_every_field(c: Cat) {
    let project = fresh();
    assert!(c.asset(&fresh()).await.unwrap().is_none());
    let full = every_field(&project);
    let bare = asset(&project, "");
    insert(&c, vec![full.clone(), bare.clone()]).await;
    assert_eq!(get(&c, &full.asset_id).await, full);
    assert_eq!(get(&c, &bare.asset_id).await, bare);
    assert_eq!(get(&c, &full.asset_id).await.version, 1);
}

async fn several_assets_are_fetched_by_id_skipping_unknown_ones(c: Cat) {
    let project = fresh();
    let a = asset(&project, "a");
    let b = asset(&fresh(), "b");
    insert(&c, vec![a.clone(), b.clone()]).await;
    let mut got = c
        .assets(&[b.asset_id.clone(), fresh(), a.asset_id.clone()])
        .await
        .unwrap();
    got.sort_by(|x, y| x.asset_name.cmp(&y.asset_name));
    assert_eq!(got, [a, b]);
    assert!(c.assets(&[]).await.unwrap().is_empty());
    assert!(c.assets(&[fresh()]).await.unwrap().is_empty());
}

async fn an_update_bumps_the_version_and_is_what_readers_see(c: Cat) {
    let a = asset(&fresh(), "before");
    insert(&c, vec![a.clone()]).await;
    let mut changed = get(&c, &a.asset_id).await;
    changed.asset_name = "after".to_owned();
    changed.asset_state = AssetState::Deleting;
    changed.state_before_delete = Some(AssetState::Creating);
    changed.update_time = at(60);
    update(&c, changed.clone()).await.unwrap();
    let stored = get(&c, &a.asset_id).await;
    assert_eq!(stored.version, 2);
    assert_eq!(
        Asset {
            version: 1,
            ..stored.clone()
        },
        changed
    );
    // The next writer must carry version 2.
    let mut next = stored;
    next.asset_name = "again".to_owned();
    update(&c, next).await.unwrap();
    assert_eq!(get(&c, &a.asset_id).await.version, 3);
}

async fn a_second_writer_with_the_same_version_conflicts_and_writes_nothing(c: Cat) {
    let a = asset(&fresh(), "original");
    insert(&c, vec![a.clone()]).await;
    let mut first = get(&c, &a.asset_id).await;
    let mut second = first.clone();
    first.asset_name = "first".to_owned();
    second.asset_name = "second".to_owned();
    second.tags = vec!["second".to_owned()];
    update(&c, first).await.unwrap();
    let err = update(&c, second).await.unwrap_err();
    assert!(matches!(err, CatalogError::Conflict), "{err:?}");
    let stored = get(&c, &a.asset_id).await;
    assert_eq!(stored.asset_name, "first");
    assert!(stored.tags.is_empty());
    assert_eq!(stored.version, 2);
    let mut q = query(&a.project_id);
    q.tags = vec![exact("second")];
    assert!(names(&c, q).await.is_empty(), "no tag row was written");
}

async fn updating_an_unknown_asset_conflicts(c: Cat) {
    let err = update(&c, asset(&fresh(), "ghost")).await.unwrap_err();
    assert!(matches!(err, CatalogError::Conflict), "{err:?}");
}

async fn apply_is_atomic_when_a_later_item_conflicts(c: Cat) {
    let project = fresh();
    let a = asset(&project, "a");
    let b = asset(&project, "b");
    insert(&c, vec![a.clone(), b.clone()]).await;
    let mut stale_b = get(&c, &b.asset_id).await;
    let mut bumped_b = stale_b.clone();
    bumped_b.asset_name = "b2".to_owned();
    update(&c, bumped_b).await.unwrap();

    let mut new_a = get(&c, &a.asset_id).await;
    new_a.asset_name = "a-changed".to_owned();
    new_a.tags = vec!["t".to_owned()];
    stale_b.asset_name = "b-stale".to_owned();
    let newcomer = asset(&project, "newcomer");
    let newcomer_file = file(&newcomer, FileCategory::Main, FileState::Creating, 0);
    let err = c
        .apply(Write {
            new_assets: vec![newcomer.clone()],
            assets: vec![new_a, stale_b],
            new_files: vec![newcomer_file.clone()],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Conflict), "{err:?}");
    assert_eq!(get(&c, &a.asset_id).await, a);
    assert_eq!(get(&c, &b.asset_id).await.asset_name, "b2");
    assert!(c.asset(&newcomer.asset_id).await.unwrap().is_none());
    assert!(c.file(&newcomer_file.file_id).await.unwrap().is_none());
    assert_eq!(names(&c, query(&project)).await, strs(&["a", "b2"]));
    let mut q = query(&project);
    q.tags = vec![exact("t")];
    assert!(names(&c, q).await.is_empty());
}

async fn apply_is_atomic_when_a_file_breaks_a_unique_rule(c: Cat) {
    let a = asset(&fresh(), "a");
    insert(&c, vec![a.clone()]).await;
    insert_file(&c, file(&a, FileCategory::Main, FileState::Created, 0))
        .await
        .unwrap();
    let mut changed = get(&c, &a.asset_id).await;
    changed.asset_state = AssetState::Actived;
    let second_main = file(&a, FileCategory::Main, FileState::Creating, 1);
    let err = c
        .apply(Write {
            assets: vec![changed],
            new_files: vec![second_main.clone()],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Unique(_)), "{err:?}");
    assert_eq!(get(&c, &a.asset_id).await, a);
    assert!(c.file(&second_main.file_id).await.unwrap().is_none());
}

async fn an_asset_id_is_unique(c: Cat) {
    let a = asset(&fresh(), "a");
    insert(&c, vec![a.clone()]).await;
    let twin = Asset {
        asset_name: "twin".to_owned(),
        ..a.clone()
    };
    let err = c
        .apply(Write {
            new_assets: vec![twin],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Unique(_)), "{err:?}");
    assert_eq!(get(&c, &a.asset_id).await.asset_name, "a");
}

async fn an_asset_has_at_most_one_live_main_file(c: Cat) {
    one_live_file_per_category(c, FileCategory::Main).await;
}

async fn an_asset_has_at_most_one_live_cover_file(c: Cat) {
    one_live_file_per_category(c, FileCategory::Cover).await;
}

async fn one_live_file_per_category(c: Cat, category: FileCategory) {
    let a = asset(&fresh(), "a");
    let other = asset(&fresh(), "other");
    insert(&c, vec![a.clone(), other.clone()]).await;
    // Failed, cancelled and deleted files do not count.
    for state in [FileState::Failed, FileState::Cancelled, FileState::Deleted] {
        insert_file(&c, file(&a, category, state, 0)).await.unwrap();
    }
    let live = file(&a, category, FileState::Creating, 1);
    insert_file(&c, live.clone()).await.unwrap();
    let second = file(&a, category, FileState::Creating, 2);
    let err = insert_file(&c, second.clone()).await.unwrap_err();
    assert!(matches!(err, CatalogError::Unique(_)), "{err:?}");
    assert!(c.file(&second.file_id).await.unwrap().is_none());
    // A failed one may still be recorded next to the live one.
    insert_file(&c, file(&a, category, FileState::Failed, 3))
        .await
        .unwrap();
    // Other assets and other categories are unaffected.
    insert_file(&c, file(&other, category, FileState::Created, 4))
        .await
        .unwrap();
    insert_file(&c, file(&a, FileCategory::Other, FileState::Creating, 5))
        .await
        .unwrap();
    insert_file(&c, file(&a, FileCategory::Other, FileState::Creating, 6))
        .await
        .unwrap();
    // Reviving a failed file while a live one exists breaks the rule too.
    let failed = file(&a, category, FileState::Failed, 7);
    insert_file(&c, failed.clone()).await.unwrap();
    let revived = FileRecord {
        state: FileState::Uploaded,
        ..c.file(&failed.file_id).await.unwrap().unwrap()
    };
    let err = c
        .apply(Write {
            files: vec![revived],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Unique(_)), "{err:?}");
    // Once the live one fails, a new one is accepted.
    let failed_live = FileRecord {
        state: FileState::Failed,
        ..c.file(&live.file_id).await.unwrap().unwrap()
    };
    c.apply(Write {
        files: vec![failed_live],
        ..Write::default()
    })
    .await
    .unwrap();
    insert_file(&c, file(&a, category, FileState::Creating, 8))
        .await
        .unwrap();
}

async fn a_file_round_trips_and_its_updates_are_versioned(c: Cat) {
    let a = asset(&fresh(), "a");
    insert(&c, vec![a.clone()]).await;
    assert!(c.file(&fresh()).await.unwrap().is_none());
    let blob = stored_blob(&c, &fresh()).await;
    let f = FileRecord {
        file_md5: Some("1B2M2Y8AsgTpgAmY7PhCfg==".to_owned()),
        multipart_count: Some(3),
        blob_key: Some(blob.key.clone()),
        video_transcoding_status: Some(TranscodingStatus::Waiting),
        reason: Some("r".to_owned()),
        block_reason_code: Some("b".to_owned()),
        ..file(&a, FileCategory::Main, FileState::Creating, 0)
    };
    c.apply(Write {
        new_files: vec![f.clone()],
        stored_blobs: vec![blob],
        ..Write::default()
    })
    .await
    .unwrap();
    assert_eq!(c.file(&f.file_id).await.unwrap().unwrap(), f);

    let mut first = c.file(&f.file_id).await.unwrap().unwrap();
    let mut second = first.clone();
    first.state = FileState::Created;
    second.state = FileState::Failed;
    c.apply(Write {
        files: vec![first.clone()],
        ..Write::default()
    })
    .await
    .unwrap();
    let err = c
        .apply(Write {
            files: vec![second],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::Conflict), "{err:?}");
    let stored = c.file(&f.file_id).await.unwrap().unwrap();
    assert_eq!(stored.state, FileState::Created);
    assert_eq!(stored.version, 2);
}

async fn files_of_returns_the_files_of_the_given_assets_oldest_first(c: Cat) {
    let a = asset(&fresh(), "a");
    let b = asset(&fresh(), "b");
    let none = asset(&fresh(), "none");
    insert(&c, vec![a.clone(), b.clone(), none.clone()]).await;
    let a2 = file(&a, FileCategory::Cover, FileState::Created, 20);
    let a1 = file(&a, FileCategory::Main, FileState::Created, 10);
    let b1 = file(&b, FileCategory::Main, FileState::Failed, 15);
    for f in [&a2, &a1, &b1] {
        insert_file(&c, f.clone()).await.unwrap();
    }
    assert_eq!(
        c.files_of(std::slice::from_ref(&a.asset_id)).await.unwrap(),
        [a1.clone(), a2.clone()]
    );
    assert_eq!(
        c.files_of(&[b.asset_id.clone(), a.asset_id.clone()])
            .await
            .unwrap(),
        [a1, b1, a2]
    );
    assert!(c
        .files_of(std::slice::from_ref(&none.asset_id))
        .await
        .unwrap()
        .is_empty());
    assert!(c.files_of(&[]).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Listing

async fn list_is_scoped_to_the_project_and_pages_with_a_total_count(c: Cat) {
    let project = fresh();
    let assets: Vec<Asset> = (0..5)
        .map(|i| asset_at(&project, &format!("a{i}"), i))
        .collect();
    insert(&c, assets).await;
    insert(&c, vec![asset_at(&fresh(), "foreign", 2)]).await;
    let page = c.list_assets(&query(&project)).await.unwrap();
    assert_eq!(page.count, 5);
    assert_eq!(page.assets.len(), 5);
    assert!(page.assets.iter().all(|a| a.project_id == project));
    let q = AssetQuery {
        limit: 2,
        offset: 1,
        ..query(&project)
    };
    let page = c.list_assets(&q).await.unwrap();
    assert_eq!(page.count, 5);
    let got: Vec<_> = page.assets.iter().map(|a| a.asset_name.as_str()).collect();
    assert_eq!(got, ["a1", "a2"]);
    let q = AssetQuery {
        offset: 5,
        ..query(&project)
    };
    let page = c.list_assets(&q).await.unwrap();
    assert_eq!((page.count, page.assets.len()), (5, 0));
    // Listed assets carry their version like a direct read.
    let page = c.list_assets(&query(&project)).await.unwrap();
    assert!(page.assets.iter().all(|a| a.version == 1));
    let empty = c.list_assets(&query(&fresh())).await.unwrap();
    assert_eq!((empty.count, empty.assets.len()), (0, 0));
}

async fn list_filters_by_name_fuzzily_or_exactly(c: Cat) {
    let project = fresh();
    let list: Vec<Asset> = [
        "Sara Model",
        "sara",
        "Bob",
        "50% off",
        "500 off",
        "a_b",
        "axb",
        "名字人",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| asset_at(&project, n, i as i64))
    .collect();
    insert(&c, list).await;
    let by = |m: TextMatch| AssetQuery {
        name: Some(m),
        ..query(&project)
    };
    assert_eq!(
        names(&c, by(fuzzy("Sara"))).await,
        strs(&["Sara Model", "sara"])
    );
    assert_eq!(names(&c, by(exact("sara"))).await, strs(&["sara"]));
    assert_eq!(names(&c, by(exact("Sara"))).await, Vec::<String>::new());
    assert_eq!(names(&c, by(fuzzy("50%"))).await, strs(&["50% off"]));
    assert_eq!(names(&c, by(fuzzy("a_b"))).await, strs(&["a_b"]));
    assert_eq!(names(&c, by(fuzzy("字"))).await, strs(&["名字人"]));
    assert_eq!(names(&c, by(fuzzy("\\"))).await, Vec::<String>::new());
}

async fn list_filters_by_tags_any_or_all(c: Cat) {
    let project = fresh();
    let tagged = |name: &str, tags: &[&str], secs: i64| Asset {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..asset_at(&project, name, secs)
    };
    insert(
        &c,
        vec![
            tagged("A", &["NEWS", "FULL_BODY"], 0),
            tagged("B", &["NEWS_EXTRA"], 1),
            tagged("C", &["SPORTS"], 2),
            tagged("D", &[], 3),
        ],
    )
    .await;
    let by = |tags: Vec<TextMatch>, all: bool| AssetQuery {
        tags,
        tags_all: all,
        ..query(&project)
    };
    assert_eq!(
        names(&c, by(vec![fuzzy("NEWS")], false)).await,
        strs(&["A", "B"])
    );
    assert_eq!(
        names(&c, by(vec![exact("NEWS")], false)).await,
        strs(&["A"])
    );
    assert_eq!(
        names(&c, by(vec![exact("NEWS"), exact("SPORTS")], false)).await,
        strs(&["A", "C"])
    );
    assert_eq!(
        names(&c, by(vec![exact("NEWS"), exact("SPORTS")], true)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&c, by(vec![fuzzy("NEWS"), fuzzy("BODY")], true)).await,
        strs(&["A"])
    );
    // A tag matching several filters still lists its asset once.
    assert_eq!(
        names(&c, by(vec![fuzzy("NEWS"), fuzzy("EWS")], false)).await,
        strs(&["A", "B"])
    );
    let page = c
        .list_assets(&by(vec![fuzzy("N"), fuzzy("S")], false))
        .await
        .unwrap();
    assert_eq!(page.count, 3);
}

async fn list_filters_by_time_type_state_and_id(c: Cat) {
    let project = fresh();
    let a = Asset {
        asset_type: AssetType::Video,
        ..asset_at(&project, "a", 0)
    };
    let b = Asset {
        asset_state: AssetState::Actived,
        ..asset_at(&project, "b", 10)
    };
    let d = Asset {
        asset_type: AssetType::Ppt,
        asset_state: AssetState::Deleting,
        ..asset_at(&project, "d", 20)
    };
    insert(&c, vec![a.clone(), b.clone(), d.clone()]).await;
    let q = |f: &dyn Fn(&mut AssetQuery)| {
        let mut q = query(&project);
        f(&mut q);
        q
    };
    assert_eq!(
        names(&c, q(&|q| q.created_from = Some(at(10)))).await,
        strs(&["b", "d"])
    );
    assert_eq!(
        names(&c, q(&|q| q.created_to = Some(at(10)))).await,
        strs(&["a", "b"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| {
                q.created_from = Some(at(1));
                q.created_to = Some(at(19));
            })
        )
        .await,
        strs(&["b"])
    );
    assert_eq!(
        names(&c, q(&|q| q.types = vec![AssetType::Video, AssetType::Ppt])).await,
        strs(&["a", "d"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| q.states = vec![AssetState::Actived, AssetState::Deleting])
        )
        .await,
        strs(&["b", "d"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| q.asset_ids = vec![d.asset_id.clone(), a.asset_id.clone(), fresh()])
        )
        .await,
        strs(&["a", "d"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| {
                q.types = vec![AssetType::Image];
                q.states = vec![AssetState::Creating];
            })
        )
        .await,
        Vec::<String>::new()
    );
}

async fn list_filters_by_system_property_service_and_app_user(c: Cat) {
    let project = fresh();
    let prop = |key, value: &str| SystemProperty {
        action: None,
        key: Some(key),
        value: Some(value.to_owned()),
    };
    let bg = Asset {
        system_properties: vec![prop(SystemPropertyKey::BackgroundImg, "Yes")],
        supported_service: vec![SupportedService::Video2D],
        app_user_id: Some("u1".to_owned()),
        ..asset_at(&project, "bg", 0)
    };
    let both = Asset {
        system_properties: vec![
            prop(SystemPropertyKey::BackgroundImg, "YES"),
            prop(SystemPropertyKey::MaterialImg, "Yes"),
        ],
        supported_service: vec![SupportedService::Live2D, SupportedService::Chat2D],
        app_user_id: Some("u2".to_owned()),
        ..asset_at(&project, "both", 1)
    };
    insert(&c, vec![bg, both, asset_at(&project, "plain", 2)]).await;
    let q = |f: &dyn Fn(&mut AssetQuery)| {
        let mut q = query(&project);
        f(&mut q);
        q
    };
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        names(
            &c,
            q(&|q| q.system_properties = vec![pair("BACKGROUND_IMG", "yes")])
        )
        .await,
        strs(&["bg", "both"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| q.system_properties =
                vec![pair("BACKGROUND_IMG", "Yes"), pair("MATERIAL_IMG", "Yes")])
        )
        .await,
        strs(&["both"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| q.system_properties = vec![pair("MATERIAL_IMG", "No")])
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            &c,
            q(&|q| q.supported_service = Some(SupportedService::Chat2D))
        )
        .await,
        strs(&["both"])
    );
    assert_eq!(
        names(&c, q(&|q| q.app_user_id = Some("u1".to_owned()))).await,
        strs(&["bg"])
    );
}

async fn list_filters_by_voice_and_avatar_meta(c: Cat) {
    let project = fresh();
    let voice = |name: &str, m: VoiceModelAssetMeta, secs| Asset {
        asset_type: AssetType::VoiceModel,
        asset_extra_meta: AssetExtraMeta {
            voice_model_meta: Some(m),
            ..AssetExtraMeta::default()
        },
        ..asset_at(&project, name, secs)
    };
    let avatar = |name: &str, m: HumanModel2DAssetMeta, secs| Asset {
        asset_type: AssetType::HumanModel2D,
        asset_extra_meta: AssetExtraMeta {
            human_model_2d_meta: Some(m),
            ..AssetExtraMeta::default()
        },
        ..asset_at(&project, name, secs)
    };
    insert(
        &c,
        vec![
            voice(
                "v-male",
                VoiceModelAssetMeta {
                    sex: Some(VoiceSex::Male),
                    language: Some(VoiceLanguage::Cn),
                    ..VoiceModelAssetMeta::default()
                },
                0,
            ),
            voice(
                "v-female",
                VoiceModelAssetMeta {
                    sex: Some(VoiceSex::Female),
                    languages: Some(vec![VoiceLanguage::En, VoiceLanguage::Fr]),
                    is_realtime_voice: Some(false),
                    external_voice_meta: Some(ExternalVoiceAssetMeta {
                        provider: ExternalVoiceProvider::Mobvoi,
                    }),
                    ..VoiceModelAssetMeta::default()
                },
                1,
            ),
            avatar(
                "h-rich",
                HumanModel2DAssetMeta {
                    is_action_editable: Some(true),
                    is_with_action_library: Some(true),
                    model_version: Some(HumanModelVersion::V3),
                    device_names: Some(vec!["dev-a".to_owned()]),
                    ..HumanModel2DAssetMeta::default()
                },
                2,
            ),
            avatar("h-bare", HumanModel2DAssetMeta::default(), 3),
            Asset {
                tags: vec!["WALKING".to_owned()],
                ..avatar("h-walking", HumanModel2DAssetMeta::default(), 4)
            },
            asset_at(&project, "image", 5),
        ],
    )
    .await;
    let q = |f: &dyn Fn(&mut AssetQuery)| {
        let mut q = query(&project);
        f(&mut q);
        q
    };
    assert_eq!(
        names(&c, q(&|q| q.voice_sexes = vec!["MALE".to_owned()])).await,
        strs(&["v-male"])
    );
    assert_eq!(
        names(&c, q(&|q| q.voice_languages = vec!["fr".to_owned()])).await,
        strs(&["v-female"])
    );
    assert_eq!(
        names(&c, q(&|q| q.voice_languages = vec!["UNKNOW".to_owned()])).await,
        strs(&["v-female"])
    );
    assert_eq!(
        names(&c, q(&|q| q.is_realtime_voice = Some(true))).await,
        strs(&["v-male"])
    );
    assert_eq!(
        names(&c, q(&|q| q.voice_provider = Some("MOBVOI".to_owned()))).await,
        strs(&["v-female"])
    );
    assert_eq!(
        names(
            &c,
            q(&|q| q.voice_provider = Some("HUAWEI_METASTUDIO".to_owned()))
        )
        .await,
        strs(&["v-male"])
    );
    assert_eq!(
        names(&c, q(&|q| q.action_editable = Some(false))).await,
        strs(&["h-bare", "h-walking"])
    );
    assert_eq!(
        names(&c, q(&|q| q.is_with_action_library = Some(true))).await,
        strs(&["h-rich"])
    );
    assert_eq!(
        names(&c, q(&|q| q.is_movable = Some(true))).await,
        strs(&["h-walking"])
    );
    assert_eq!(
        names(&c, q(&|q| q.is_movable = Some(false))).await,
        strs(&["h-rich", "h-bare"])
    );
    assert_eq!(
        names(&c, q(&|q| q.human_model_2d_version = Some("V2".to_owned()))).await,
        strs(&["h-bare", "h-walking"])
    );
    assert_eq!(
        names(&c, q(&|q| q.include_device_name = Some("dev-a".to_owned()))).await,
        strs(&["h-rich"])
    );
    assert_eq!(
        names(&c, q(&|q| q.exclude_device_name = Some("dev-a".to_owned()))).await,
        strs(&["h-bare", "h-walking"])
    );
}

async fn list_orders_by_create_time_update_time_asset_order_and_name(c: Cat) {
    let project = fresh();
    let ordered = |name: &str, order: Option<i32>, created: i64, updated: i64| Asset {
        asset_order: order,
        update_time: at(updated),
        ..asset_at(&project, name, created)
    };
    // Inserted out of creation order on purpose.
    insert(
        &c,
        vec![
            ordered("C", Some(1), 20, 25),
            ordered("A", Some(5), 0, 40),
            ordered("D", None, 30, 30),
            ordered("B", Some(5), 10, 10),
        ],
    )
    .await;
    let by = |sort: SortKey, descending: bool| AssetQuery {
        sort,
        descending,
        ..query(&project)
    };
    assert_eq!(
        names(&c, by(SortKey::CreateTime, false)).await,
        strs(&["A", "B", "C", "D"])
    );
    assert_eq!(
        names(&c, by(SortKey::CreateTime, true)).await,
        strs(&["D", "C", "B", "A"])
    );
    assert_eq!(
        names(&c, by(SortKey::UpdateTime, false)).await,
        strs(&["B", "C", "D", "A"])
    );
    assert_eq!(
        names(&c, by(SortKey::UpdateTime, true)).await,
        strs(&["A", "D", "C", "B"])
    );
    assert_eq!(
        names(&c, by(SortKey::AssetOrder, false)).await,
        strs(&["C", "B", "A", "D"])
    );
    assert_eq!(
        names(&c, by(SortKey::AssetOrder, true)).await,
        strs(&["B", "A", "C", "D"])
    );
    assert_eq!(
        names(&c, by(SortKey::AssetName, false)).await,
        strs(&["A", "B", "C", "D"])
    );
    assert_eq!(
        names(&c, by(SortKey::AssetName, true)).await,
        strs(&["D", "C", "B", "A"])
    );
    // Equal creation times fall back to insertion order.
    let project2 = fresh();
    insert(
        &c,
        vec![
            asset_at(&project2, "first", 0),
            asset_at(&project2, "second", 0),
        ],
    )
    .await;
    assert_eq!(
        names(
            &c,
            AssetQuery {
                descending: true,
                ..query(&project2)
            }
        )
        .await,
        strs(&["second", "first"])
    );
}

async fn list_follows_share_roles_and_sources(c: Cat) {
    let owner = fresh();
    let sharee = fresh();
    let now = OffsetDateTime::now_utc();
    let public = Asset {
        shared_config: Some(AssetSharedConfig {
            shared_type: Some(SharedType::Public),
            expire_time: None,
            allowed_project_ids: None,
        }),
        ..asset_at(&owner, "public", 0)
    };
    let shared = Asset {
        shared_config: shared_with(&[&sharee], Some(now + Duration::DAY)),
        ..asset_at(&owner, "shared", 1)
    };
    let expired = Asset {
        shared_config: shared_with(&[&sharee], Some(now - Duration::DAY)),
        ..asset_at(&owner, "expired", 2)
    };
    let forever = Asset {
        shared_config: shared_with(&[&sharee], None),
        ..asset_at(&owner, "no expiry", 3)
    };
    let elsewhere = Asset {
        shared_config: shared_with(&[&fresh()], Some(now + Duration::DAY)),
        ..asset_at(&owner, "elsewhere", 4)
    };
    let private = asset_at(&owner, "private", 5);
    let sharees_own = asset_at(&sharee, "sharee's own", 6);
    insert(
        &c,
        vec![
            public,
            shared,
            expired,
            forever,
            elsewhere,
            private,
            sharees_own,
        ],
    )
    .await;
    let q = |project: &str, role: Option<ShareRole>, source: AssetSource| AssetQuery {
        role,
        source,
        ..query(project)
    };
    assert_eq!(
        names(
            &c,
            q(&sharee, Some(ShareRole::Sharee), AssetSource::Customization)
        )
        .await,
        strs(&["shared", "no expiry"])
    );
    assert_eq!(
        names(
            &c,
            q(&owner, Some(ShareRole::Sharer), AssetSource::Customization)
        )
        .await,
        strs(&["shared", "expired", "no expiry", "elsewhere"])
    );
    assert_eq!(
        names(
            &c,
            q(&owner, Some(ShareRole::Sharee), AssetSource::Customization)
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&c, q(&sharee, None, AssetSource::Customization)).await,
        strs(&["sharee's own"])
    );
    let system = names(&c, q(&sharee, None, AssetSource::System)).await;
    assert!(system.contains(&"public".to_owned()), "{system:?}");
    assert!(!system.contains(&"sharee's own".to_owned()), "{system:?}");
    let all = names(&c, q(&sharee, None, AssetSource::All)).await;
    assert!(all.contains(&"public".to_owned()) && all.contains(&"sharee's own".to_owned()));
    assert!(!all.contains(&"shared".to_owned()), "{all:?}");
    // The share expiry is judged against the query's clock.
    let later = AssetQuery {
        now: Some(now + Duration::days(2)),
        ..q(&sharee, Some(ShareRole::Sharee), AssetSource::Customization)
    };
    assert_eq!(names(&c, later).await, strs(&["no expiry"]));
}

async fn list_sees_updated_tags_and_shares(c: Cat) {
    let owner = fresh();
    let sharee = fresh();
    let a = Asset {
        tags: vec!["old".to_owned()],
        ..asset_at(&owner, "a", 0)
    };
    insert(&c, vec![a.clone()]).await;
    let mut changed = get(&c, &a.asset_id).await;
    changed.tags = vec!["new".to_owned()];
    changed.asset_name = "renamed".to_owned();
    changed.asset_state = AssetState::Actived;
    changed.asset_order = Some(9);
    changed.app_user_id = Some("u9".to_owned());
    changed.shared_config = shared_with(&[&sharee], None);
    update(&c, changed).await.unwrap();
    let q = |f: &dyn Fn(&mut AssetQuery)| {
        let mut q = query(&owner);
        f(&mut q);
        q
    };
    assert!(names(&c, q(&|q| q.tags = vec![exact("old")]))
        .await
        .is_empty());
    assert_eq!(
        names(&c, q(&|q| q.tags = vec![exact("new")])).await,
        strs(&["renamed"])
    );
    assert_eq!(
        names(&c, q(&|q| q.name = Some(exact("renamed")))).await,
        strs(&["renamed"])
    );
    assert_eq!(
        names(&c, q(&|q| q.states = vec![AssetState::Actived])).await,
        strs(&["renamed"])
    );
    assert_eq!(
        names(&c, q(&|q| q.app_user_id = Some("u9".to_owned()))).await,
        strs(&["renamed"])
    );
    let shared = AssetQuery {
        role: Some(ShareRole::Sharee),
        ..query(&sharee)
    };
    assert_eq!(names(&c, shared.clone()).await, strs(&["renamed"]));

    let mut unshared = get(&c, &a.asset_id).await;
    unshared.shared_config = Some(AssetSharedConfig {
        shared_type: Some(SharedType::Private),
        ..AssetSharedConfig::default()
    });
    update(&c, unshared).await.unwrap();
    assert!(names(&c, shared).await.is_empty());
}

// ---------------------------------------------------------------------------------------
// Periodic tasks

async fn each_period_of_a_periodic_task_is_claimed_once(c: Cat) {
    let task = format!("task-{}", fresh());
    let claims = futures::future::join_all((0..8).map(|_| c.claim_period(&task, at(60))));
    let won = claims
        .await
        .into_iter()
        .map(Result::unwrap)
        .filter(|&claimed| claimed)
        .count();
    assert_eq!(won, 1, "one of eight concurrent claims wins");
    assert!(!c.claim_period(&task, at(60)).await.unwrap());
    assert!(
        !c.claim_period(&task, at(0)).await.unwrap(),
        "an earlier period"
    );
    assert!(c.claim_period(&task, at(120)).await.unwrap());
    assert!(
        c.claim_period(&format!("other-{task}"), at(60))
            .await
            .unwrap(),
        "tasks are independent"
    );
}

// ---------------------------------------------------------------------------------------
// Operator tooling: credentials, stats, job progress

async fn credentials_are_listed_without_secrets_and_deleted_with_their_tokens(c: Cat) {
    let ak = format!("AK{}", fresh());
    c.put_credential(&Credential {
        access_key: ak.clone(),
        secret_key: "listed-secret".to_owned().into(),
        project_id: "p-list".to_owned(),
        is_admin: true,
    })
    .await
    .unwrap();
    let listed = c.list_credentials().await.unwrap();
    let mine = listed.iter().find(|i| i.access_key == ak).expect("listed");
    assert_eq!(mine.project_id, "p-list");
    assert!(mine.is_admin);
    assert!(mine.created_at > OffsetDateTime::now_utc() - Duration::HOUR);

    let hash = fresh();
    c.put_token(&Token {
        token_hash: hash.clone(),
        access_key: ak.clone(),
        project_id: "p-list".to_owned(),
        is_admin: true,
        expires_at: OffsetDateTime::now_utc() + Duration::HOUR,
        secret_fingerprint: "f".to_owned(),
    })
    .await
    .unwrap();
    assert!(c.delete_credential(&ak).await.unwrap());
    assert!(c.credential(&ak).await.unwrap().is_none());
    assert!(c.token(&hash).await.unwrap().is_none(), "its tokens go too");
    assert!(!c
        .list_credentials()
        .await
        .unwrap()
        .iter()
        .any(|i| i.access_key == ak));
    assert!(!c.delete_credential(&ak).await.unwrap(), "already gone");
}

fn job(kind: &str, key: Option<String>) -> NewJob {
    NewJob {
        kind: kind.to_owned(),
        payload: "{}".to_owned(),
        dedup_key: key,
        run_after: OffsetDateTime::now_utc() - Duration::SECOND,
        max_attempts: 3,
        lane: Lane::Light,
    }
}

async fn stats_count_jobs_by_kind_assets_by_state_and_the_review_queue(c: Cat) {
    let before = c.stats().await.unwrap();
    let kind = format!("kind-{}", fresh());
    let jobs = vec![job(&kind, None), job(&kind, None)];
    let project = fresh();
    let a = Asset {
        asset_state: AssetState::Actived,
        ..asset(&project, "a")
    };
    let review = file(&a, FileCategory::Main, FileState::Review, 0);
    c.apply(Write {
        new_assets: vec![a],
        new_files: vec![review],
        jobs,
        ..Write::default()
    })
    .await
    .unwrap();
    let after = c.stats().await.unwrap();
    let counts = after
        .jobs
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| *n)
        .expect("the new kind is counted");
    assert_eq!(
        counts,
        JobCounts {
            queued: 2,
            running: 0,
            failed: 0
        }
    );
    let actived = |s: &assetd::catalog::CatalogStats| {
        s.assets
            .iter()
            .find(|(state, _)| *state == AssetState::Actived)
            .map_or(0, |(_, n)| *n)
    };
    assert!(actived(&after) > actived(&before));
    assert!(after.review_queue > before.review_queue);
}

async fn a_running_job_reports_progress_until_it_is_claimed_again(c: Cat) {
    // Only this check's own job may be claimed, so it uses a kind no other check enqueues
    // and a catalogue of its own is not needed: claims take the oldest due job, so the job
    // is made due far in the past.
    let key = format!("progress:{}", fresh());
    assert!(c.job_status(&key).await.unwrap().is_none());
    let mut new = job("progress_check", Some(key.clone()));
    new.run_after = OffsetDateTime::UNIX_EPOCH + Duration::SECOND;
    c.apply(Write {
        jobs: vec![new],
        ..Write::default()
    })
    .await
    .unwrap();
    let queued = c.job_status(&key).await.unwrap().expect("pending");
    assert_eq!(queued.state, "QUEUED");
    assert_eq!(queued.progress, None);
    // Progress of a job nobody runs is ignored.
    c.set_job_progress(&key, r#"{"step":"x"}"#).await.unwrap();
    assert_eq!(c.job_status(&key).await.unwrap().unwrap().progress, None);

    let now = OffsetDateTime::now_utc();
    let claimed = c
        .claim_job(
            "w1",
            now,
            now + Duration::MINUTE,
            &[Lane::Light, Lane::Heavy],
        )
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!(claimed.kind, "progress_check");
    c.set_job_progress(&key, r#"{"step":"transcoding","percent":40}"#)
        .await
        .unwrap();
    let running = c.job_status(&key).await.unwrap().unwrap();
    assert_eq!(running.state, "RUNNING");
    assert_eq!(running.attempts, 1);
    assert_eq!(
        running.progress.as_deref(),
        Some(r#"{"step":"transcoding","percent":40}"#)
    );

    c.finish_job(
        claimed.id,
        "w1",
        JobOutcome::Retry {
            at: OffsetDateTime::UNIX_EPOCH + Duration::SECOND,
            error: "boom".to_owned(),
        },
    )
    .await
    .unwrap();
    let retried = c.job_status(&key).await.unwrap().unwrap();
    assert_eq!(retried.state, "QUEUED");
    assert_eq!(retried.last_error.as_deref(), Some("boom"));
    assert_eq!(retried.progress, None, "a retry starts from scratch");

    let again = c
        .claim_job(
            "w2",
            now,
            now + Duration::MINUTE,
            &[Lane::Light, Lane::Heavy],
        )
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!(again.id, claimed.id);
    c.finish_job(again.id, "w2", JobOutcome::Done)
        .await
        .unwrap();
    assert!(c.job_status(&key).await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// Blobs: content addressing and reference counting

/// A blob write of fresh content `sha` (any unique string), started and leased for a minute.
async fn stored_blob(c: &Cat, sha: &str) -> StoredBlob {
    let id = fresh();
    let key = format!("content/{}/{id}", &id[..2]);
    c.start_blob_write(&id, &key, OffsetDateTime::now_utc() + Duration::minutes(1))
        .await
        .unwrap();
    StoredBlob {
        write_id: id,
        key,
        sha256: sha.to_owned(),
        md5: "1B2M2Y8AsgTpgAmY7PhCfg==".to_owned(),
        size: 10,
    }
}

/// A new file of a new asset referring to `blob`, recorded in one write.
async fn file_on(c: &Cat, blob: &StoredBlob) -> FileRecord {
    let a = asset(&fresh(), "a");
    insert(c, vec![a.clone()]).await;
    let f = FileRecord {
        blob_key: Some(blob.key.clone()),
        ..file(&a, FileCategory::Other, FileState::Created, 0)
    };
    c.apply(Write {
        new_files: vec![f.clone()],
        stored_blobs: vec![blob.clone()],
        ..Write::default()
    })
    .await
    .unwrap();
    c.file(&f.file_id).await.unwrap().unwrap()
}

async fn state_of_blob(c: &Cat, key: &str) -> Option<BlobState> {
    c.blob(key).await.unwrap().map(|b| b.state)
}

async fn drop_reference(c: &Cat, mut f: FileRecord) {
    f.blob_key = None;
    f.state = FileState::Deleted;
    c.apply(Write {
        files: vec![f],
        ..Write::default()
    })
    .await
    .unwrap();
}

async fn identical_content_is_stored_once_and_released_with_its_last_reference(c: Cat) {
    let sha = fresh();
    let first = stored_blob(&c, &sha).await;
    let second = stored_blob(&c, &sha).await;
    let f1 = file_on(&c, &first).await;
    let f2 = file_on(&c, &second).await;
    assert_eq!(f1.blob_key.as_deref(), Some(first.key.as_str()));
    assert_eq!(
        f2.blob_key.as_deref(),
        Some(first.key.as_str()),
        "the second copy's file refers to the first copy"
    );
    assert_eq!(state_of_blob(&c, &first.key).await, Some(BlobState::Live));
    assert_eq!(
        state_of_blob(&c, &second.key).await,
        Some(BlobState::Deleting),
        "the second copy goes"
    );
    assert!(c.forget_blob(&second.key).await.unwrap());
    assert!(
        !c.forget_blob(&first.key).await.unwrap(),
        "a LIVE blob stays"
    );

    drop_reference(&c, f1).await;
    assert_eq!(
        state_of_blob(&c, &first.key).await,
        Some(BlobState::Live),
        "another file still refers to it"
    );
    drop_reference(&c, f2).await;
    assert_eq!(
        state_of_blob(&c, &first.key).await,
        Some(BlobState::Deleting),
        "the last reference went"
    );
    assert!(c
        .deleting_blobs(100_000)
        .await
        .unwrap()
        .contains(&first.key));
    assert!(c.forget_blob(&first.key).await.unwrap());
    assert_eq!(c.blob(&first.key).await.unwrap(), None);
}

async fn a_file_cannot_refer_to_bytes_that_are_not_stored(c: Cat) {
    let a = asset(&fresh(), "a");
    insert(&c, vec![a.clone()]).await;
    let f = FileRecord {
        blob_key: Some("content/ab/abnotstored".to_owned()),
        ..file(&a, FileCategory::Other, FileState::Created, 0)
    };
    let err = insert_file(&c, f.clone()).await.unwrap_err();
    assert!(matches!(err, CatalogError::BlobGone(_)), "{err:?}");
    assert!(c.file(&f.file_id).await.unwrap().is_none());

    // Nor to bytes on their way out.
    let blob = stored_blob(&c, &fresh()).await;
    let holder = file_on(&c, &blob).await;
    drop_reference(&c, holder).await;
    let f = FileRecord {
        blob_key: Some(blob.key.clone()),
        ..file(&a, FileCategory::Other, FileState::Created, 0)
    };
    let err = insert_file(&c, f.clone()).await.unwrap_err();
    assert!(matches!(err, CatalogError::BlobGone(_)), "{err:?}");
}

async fn recording_a_write_whose_lease_was_taken_fails_and_writes_nothing(c: Cat) {
    let blob = stored_blob(&c, &fresh()).await;
    let far = OffsetDateTime::now_utc() + Duration::hours(1);
    assert!(c.end_blob_write(&blob.write_id, Some(far)).await.unwrap());
    let a = asset(&fresh(), "a");
    insert(&c, vec![a.clone()]).await;
    let f = FileRecord {
        blob_key: Some(blob.key.clone()),
        ..file(&a, FileCategory::Other, FileState::Created, 0)
    };
    let err = c
        .apply(Write {
            new_files: vec![f.clone()],
            stored_blobs: vec![blob.clone()],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CatalogError::WriteExpired(_)), "{err:?}");
    assert!(c.file(&f.file_id).await.unwrap().is_none());
    assert_eq!(c.blob(&blob.key).await.unwrap(), None);
}

async fn blob_writes_are_leased_renewed_and_claimed_once(c: Cat) {
    let now = OffsetDateTime::now_utc();
    let (id, key) = (fresh(), format!("parts/{}/00001", fresh()));
    c.start_blob_write(&id, &key, now - Duration::seconds(5))
        .await
        .unwrap();
    assert!(c.set_blob_upload(&id, "upload-1").await.unwrap());
    let expired = c.expired_blob_writes(now, 100_000).await.unwrap();
    let mine = expired
        .iter()
        .find(|w| w.id == id)
        .expect("listed as expired");
    assert_eq!(mine.key, key);
    assert_eq!(mine.upload_id.as_deref(), Some("upload-1"));
    assert_eq!(
        c.known_blob_keys(std::slice::from_ref(&key)).await.unwrap(),
        vec![key.clone()]
    );

    c.renew_blob_writes(std::slice::from_ref(&id), now + Duration::minutes(1))
        .await
        .unwrap();
    let expired = c.expired_blob_writes(now, 100_000).await.unwrap();
    assert!(expired.iter().all(|w| w.id != id), "renewed");
    assert!(
        !c.end_blob_write(&id, Some(now)).await.unwrap(),
        "a live lease is not claimed"
    );
    let later = now + Duration::minutes(2);
    assert!(c.end_blob_write(&id, Some(later)).await.unwrap());
    assert!(!c.end_blob_write(&id, Some(later)).await.unwrap(), "once");
    assert!(!c.set_blob_upload(&id, "upload-2").await.unwrap());
    assert!(c.known_blob_keys(&[key]).await.unwrap().is_empty());
}

async fn a_damaged_copy_is_replaced_by_fresh_identical_bytes_for_every_file(c: Cat) {
    let sha = fresh();
    let old = stored_blob(&c, &sha).await;
    let f1 = file_on(&c, &old).await;
    c.record_scrub(&old.key, Some("corrupt: test"), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let fresh_copy = stored_blob(&c, &sha).await;
    let f2 = file_on(&c, &fresh_copy).await;
    assert_eq!(f2.blob_key.as_deref(), Some(fresh_copy.key.as_str()));
    let healed = c.file(&f1.file_id).await.unwrap().unwrap();
    assert_eq!(healed.blob_key.as_deref(), Some(fresh_copy.key.as_str()));
    assert_eq!(healed.version, f1.version + 1, "moving a file is a change");
    assert_eq!(state_of_blob(&c, &old.key).await, Some(BlobState::Deleting));
    let live = c.blob(&fresh_copy.key).await.unwrap().unwrap();
    assert_eq!((live.state, live.damage), (BlobState::Live, None));
}

async fn scrub_verdicts_are_recorded_and_reported_with_their_files(c: Cat) {
    let blob = stored_blob(&c, &fresh()).await;
    let f = file_on(&c, &blob).await;
    let due = c
        .blobs_to_scrub(OffsetDateTime::now_utc() + Duration::seconds(1), 100_000)
        .await
        .unwrap();
    assert!(due.iter().any(|b| b.key == blob.key), "never verified: due");

    let checked = OffsetDateTime::now_utc();
    c.record_scrub(&blob.key, Some("missing"), checked)
        .await
        .unwrap();
    let record = c.blob(&blob.key).await.unwrap().unwrap();
    assert_eq!(record.damage.as_deref(), Some("missing"));
    let due = c.blobs_to_scrub(checked, 100_000).await.unwrap();
    assert!(due.iter().all(|b| b.key != blob.key), "just verified");
    let (count, damaged) = c.damaged_files(100_000).await.unwrap();
    assert!(count >= 1);
    let entry = damaged
        .iter()
        .find(|d| d.file_id == f.file_id)
        .expect("the file is reported");
    assert_eq!(entry.blob_key, blob.key);
    assert_eq!(entry.damage, "missing");

    c.record_scrub(&blob.key, None, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let (_, damaged) = c.damaged_files(100_000).await.unwrap();
    assert!(
        damaged.iter().all(|d| d.file_id != f.file_id),
        "verified again"
    );
    let usage = c.storage_usage().await.unwrap();
    assert!(usage.blobs >= 1 && usage.stored_bytes >= 10 && usage.logical_bytes >= 10);
}

// ---------------------------------------------------------------------------------------
// Quotas

async fn quotas_are_stored_and_a_write_past_one_is_refused_whole(c: Cat) {
    let project = fresh();
    assert_eq!(c.quota(&project).await.unwrap(), None);
    let quota = Quota {
        project_id: project.clone(),
        max_bytes: Some(25),
        max_assets: Some(2),
        requests_per_second: Some(7),
    };
    c.put_quota(&quota).await.unwrap();
    assert_eq!(c.quota(&project).await.unwrap(), Some(quota.clone()));

    let a = asset(&project, "a");
    insert(&c, vec![a.clone()]).await;
    insert_file(&c, file(&a, FileCategory::Main, FileState::Creating, 0))
        .await
        .unwrap();
    let usage = ProjectUsage {
        bytes: 10,
        assets: 1,
    };
    assert_eq!(c.project_usage(&project).await.unwrap(), usage);

    // A second file (20 bytes in all) fits; a third (30) does not, and nothing of its write
    // is kept. A generated file does not count.
    insert_file(&c, file(&a, FileCategory::Other, FileState::Created, 1))
        .await
        .unwrap();
    let b = asset(&project, "b");
    let over = c
        .apply(Write {
            new_assets: vec![b.clone()],
            new_files: vec![file(&b, FileCategory::Main, FileState::Creating, 2)],
            ..Write::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(over, CatalogError::QuotaExceeded(_)), "{over:?}");
    assert!(c.asset(&b.asset_id).await.unwrap().is_none());
    let mut made = file(&a, FileCategory::Other, FileState::Created, 3);
    made.derived = Some(assetd::catalog::Derived::Thumbnail);
    insert_file(&c, made).await.unwrap();
    assert_eq!(c.project_usage(&project).await.unwrap().bytes, 20);

    // A cancelled file gives its bytes back; the asset limit still holds.
    let mut first = c.files_of(std::slice::from_ref(&a.asset_id)).await.unwrap()[0].clone();
    first.state = FileState::Cancelled;
    c.apply(Write {
        files: vec![first],
        ..Write::default()
    })
    .await
    .unwrap();
    assert_eq!(c.project_usage(&project).await.unwrap().bytes, 10);
    insert(&c, vec![asset(&project, "c")]).await;
    let third = c
        .apply(Write {
            new_assets: vec![asset(&project, "d")],
            ..Write::default()
        })
        .await;
    assert!(
        matches!(third, Err(CatalogError::QuotaExceeded(_))),
        "{third:?}"
    );

    // All limits lifted: no quota, and anything goes.
    c.put_quota(&Quota {
        project_id: project.clone(),
        ..Quota::default()
    })
    .await
    .unwrap();
    assert_eq!(c.quota(&project).await.unwrap(), None);
    insert(&c, vec![asset(&project, "e")]).await;
}

// ---------------------------------------------------------------------------------------
// Job lanes

async fn claims_take_only_the_lanes_asked_for(c: Cat) {
    // Checks may share one database, and claims take the oldest due job of any check: this
    // one claims only from the heavy lane, which no other check fills, and its light job is
    // due after the job the progress check claims, so that one never takes it.
    let key = fresh();
    let job = |lane: Lane, secs: i64| NewJob {
        kind: "contract".to_owned(),
        payload: format!("{{\"key\":\"{key}\",\"lane\":\"{}\"}}", lane.as_str()),
        dedup_key: Some(format!("{key}:{}", lane.as_str())),
        run_after: OffsetDateTime::UNIX_EPOCH + Duration::seconds(secs),
        max_attempts: 3,
        lane,
    };
    // The light job is older, yet a claim of the heavy lane skips it.
    let write = Write {
        jobs: vec![job(Lane::Light, 2), job(Lane::Heavy, 3)],
        ..Write::default()
    };
    c.apply(write).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let lease = now + Duration::minutes(5);
    let heavy = c
        .claim_job("w-heavy", now, lease, &[Lane::Heavy])
        .await
        .unwrap()
        .expect("the heavy job");
    assert_eq!(heavy.lane, Lane::Heavy);
    assert!(heavy.payload.contains(&key) && heavy.payload.contains("heavy"));
    assert!(c
        .claim_job("w-heavy", now, lease, &[Lane::Heavy])
        .await
        .unwrap()
        .is_none_or(|other| !other.payload.contains(&key)));
    c.finish_job(heavy.id, "w-heavy", JobOutcome::Done)
        .await
        .unwrap();
}
