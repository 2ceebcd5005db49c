//! The catalogues' fast paths keep the plain semantics: concurrent writes (committed
//! together by SQLite's writer task) still succeed or fail one by one, totals kept in
//! `asset_counts` equal a recount, and the trigram and tag indexes only narrow what LIKE and
//! `=` decide. Every check runs on SQLite and on PostgreSQL.

#[macro_use]
#[path = "common/postgres.rs"]
#[allow(dead_code)]
mod test_postgres;

use std::sync::Arc;

use assetd::catalog::{Asset, AssetQuery, Catalog, CatalogError, SortKey, TextMatch, Write};
use assetd::model::{AssetExtraMeta, AssetState, AssetType};
use time::OffsetDateTime;

type Cat = Arc<dyn Catalog>;

on_both_backends!(
    concurrent_writes_commit_together_but_a_conflict_fails_only_its_own,
    totals_by_type_and_state_match_a_recount_after_changes,
    trigram_candidates_are_narrowed_to_the_plain_text_match,
    fuzzy_tags_match_like_before_including_tags_added_by_updates,
    asset_order_sorts_orders_first_nulls_last_and_ties_newest_first,
);

fn asset(project: &str, name: &str, secs: i64) -> Asset {
    let t = OffsetDateTime::from_unix_timestamp(1_750_000_000 + secs).unwrap();
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
        create_time: t,
        update_time: t,
        deleted_at: None,
        version: 1,
    }
}

fn query(project: &str) -> AssetQuery {
    AssetQuery {
        project_id: project.to_owned(),
        now: Some(OffsetDateTime::now_utc()),
        limit: 100,
        ..AssetQuery::default()
    }
}

fn text(text: &str, exact: bool) -> TextMatch {
    TextMatch {
        text: text.to_owned(),
        exact,
    }
}

async fn create(c: &Cat, assets: Vec<Asset>) {
    c.apply(Write {
        new_assets: assets,
        ..Write::default()
    })
    .await
    .expect("create");
}

async fn names(c: &Cat, q: AssetQuery) -> (u64, Vec<String>) {
    let page = c.list_assets(&q).await.expect("list");
    let mut names = page
        .assets
        .into_iter()
        .map(|a| a.asset_name)
        .collect::<Vec<_>>();
    names.sort();
    (page.count, names)
}

async fn concurrent_writes_commit_together_but_a_conflict_fails_only_its_own(c: Cat) {
    let project = "p";
    let stale = asset(project, "stale", 0);
    create(&c, vec![stale.clone()]).await;
    let mut fresh = stale.clone();
    fresh.asset_name = "renamed".into();
    c.apply(Write {
        assets: vec![fresh],
        ..Write::default()
    })
    .await
    .unwrap();

    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.apply(Write {
                new_assets: vec![asset(project, &format!("new {i}"), i)],
                ..Write::default()
            })
            .await
        }));
    }
    let conflict = {
        let c = c.clone();
        let mut again = stale.clone();
        again.asset_name = "lost update".into();
        tokio::spawn(async move {
            c.apply(Write {
                assets: vec![again],
                ..Write::default()
            })
            .await
        })
    };
    for task in tasks {
        task.await.unwrap().expect("independent writes succeed");
    }
    assert!(matches!(
        conflict.await.unwrap(),
        Err(CatalogError::Conflict)
    ));
    let (count, listed) = names(&c, query(project)).await;
    assert_eq!(count, 41);
    assert!(listed.contains(&"renamed".to_owned()));
    assert!(!listed.contains(&"lost update".to_owned()));
}

async fn totals_by_type_and_state_match_a_recount_after_changes(c: Cat) {
    let project = "p";
    let mut assets = (0..9)
        .map(|i| asset(project, &format!("a{i}"), i))
        .collect::<Vec<_>>();
    assets[0].asset_type = AssetType::Video;
    assets[1].asset_type = AssetType::Video;
    create(&c, assets.clone()).await;
    create(&c, vec![asset("other", "elsewhere", 0)]).await;
    for (i, a) in assets.iter().take(4).enumerate() {
        let mut changed = c.asset(&a.asset_id).await.unwrap().unwrap();
        changed.asset_state = AssetState::Actived;
        if i == 3 {
            changed.asset_type = AssetType::Video;
        }
        c.apply(Write {
            assets: vec![changed],
            ..Write::default()
        })
        .await
        .unwrap();
    }

    // A time bound far in the past keeps the same rows but forces a real count.
    let recount = |mut q: AssetQuery| {
        q.created_from = Some(OffsetDateTime::UNIX_EPOCH);
        q
    };
    let cases = [
        (vec![], vec![], 9),
        (vec![AssetType::Video], vec![], 3),
        (vec![], vec![AssetState::Actived], 4),
        (vec![AssetType::Video], vec![AssetState::Actived], 3),
        (vec![AssetType::Image], vec![AssetState::Creating], 5),
        (
            vec![AssetType::Video, AssetType::Image],
            vec![AssetState::Block],
            0,
        ),
    ];
    for (types, states, expected) in cases {
        let q = AssetQuery {
            types: types.clone(),
            states: states.clone(),
            ..query(project)
        };
        let counted = c.list_assets(&q).await.unwrap().count;
        let recounted = c.list_assets(&recount(q)).await.unwrap().count;
        assert_eq!(
            (counted, recounted),
            (expected, expected),
            "{types:?} {states:?}"
        );
    }
}

async fn trigram_candidates_are_narrowed_to_the_plain_text_match(c: Cat) {
    let project = "p";
    let all = [
        "Quiet Harbor promo",
        "harbinger robot borrow", // every trigram of "harbor", but not "harbor"
        "HARBOR",
        "Ébène",
        "say \"hi\" 100%",
        "ab",
    ];
    create(
        &c,
        all.iter()
            .enumerate()
            .map(|(i, n)| asset(project, n, i as i64))
            .collect(),
    )
    .await;
    create(&c, vec![asset("other", "Harbor elsewhere", 0)]).await;

    let fuzzy = |t: &str| AssetQuery {
        name: Some(text(t, false)),
        ..query(project)
    };
    let exact = |t: &str| AssetQuery {
        name: Some(text(t, true)),
        ..query(project)
    };
    let strs = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(&c, fuzzy("harbor")).await,
        (2, strs(&["HARBOR", "Quiet Harbor promo"]))
    );
    // LIKE folds ASCII case only, and so does the listing.
    assert_eq!(names(&c, fuzzy("ébène")).await, (0, vec![]));
    assert_eq!(names(&c, fuzzy("Ébè")).await, (1, strs(&["Ébène"])));
    assert_eq!(
        names(&c, fuzzy("\"hi\" 100%")).await,
        (1, strs(&["say \"hi\" 100%"]))
    );
    assert_eq!(names(&c, fuzzy("b")).await.0, 5);
    assert_eq!(names(&c, exact("HARBOR")).await, (1, strs(&["HARBOR"])));
    assert_eq!(names(&c, exact("harbor")).await, (0, vec![]));
    assert_eq!(names(&c, exact("ab")).await, (1, strs(&["ab"])));

    // A renamed asset is found by its new name only.
    let page = c.list_assets(&exact("HARBOR")).await.unwrap();
    let mut renamed = page.assets[0].clone();
    renamed.asset_name = "Lighthouse".into();
    c.apply(Write {
        assets: vec![renamed],
        ..Write::default()
    })
    .await
    .unwrap();
    assert_eq!(names(&c, fuzzy("harbor")).await.0, 1);
    assert_eq!(
        names(&c, fuzzy("ighthous")).await,
        (1, strs(&["Lighthouse"]))
    );
}

async fn fuzzy_tags_match_like_before_including_tags_added_by_updates(c: Cat) {
    let project = "p";
    let mut a = asset(project, "a", 0);
    a.tags = vec!["News".into(), "50%_off".into()];
    let mut b = asset(project, "b", 1);
    b.tags = vec!["sports".into()];
    create(&c, vec![a.clone(), b.clone()]).await;

    let tagged = |tags: &[(&str, bool)], all: bool| AssetQuery {
        tags: tags.iter().map(|(t, exact)| text(t, *exact)).collect(),
        tags_all: all,
        sort: SortKey::CreateTime,
        ..query(project)
    };
    let strs = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names(&c, tagged(&[("news", false)], false)).await,
        (1, strs(&["a"]))
    );
    assert_eq!(
        names(&c, tagged(&[("news", true)], false)).await,
        (0, vec![])
    );
    assert_eq!(
        names(&c, tagged(&[("0%_", false)], false)).await,
        (1, strs(&["a"]))
    );
    assert_eq!(
        names(&c, tagged(&[("0%x", false)], false)).await,
        (0, vec![])
    );
    assert_eq!(
        names(&c, tagged(&[("new", false), ("port", false)], false)).await,
        (2, strs(&["a", "b"]))
    );
    assert_eq!(
        names(&c, tagged(&[("new", false), ("port", false)], true)).await,
        (0, vec![])
    );

    let mut b = c.asset(&b.asset_id).await.unwrap().unwrap();
    b.tags = vec!["newsroom".into()];
    c.apply(Write {
        assets: vec![b],
        ..Write::default()
    })
    .await
    .unwrap();
    assert_eq!(
        names(&c, tagged(&[("news", false)], false)).await,
        (2, strs(&["a", "b"]))
    );
    assert_eq!(
        names(&c, tagged(&[("sports", false)], false)).await,
        (0, vec![])
    );
}

async fn asset_order_sorts_orders_first_nulls_last_and_ties_newest_first(c: Cat) {
    let project = "p";
    let orders = [Some(2), None, Some(1), Some(2), None, Some(3)];
    create(
        &c,
        orders
            .iter()
            .enumerate()
            .map(|(i, order)| Asset {
                asset_order: *order,
                ..asset(project, &format!("n{i}"), i as i64)
            })
            .collect(),
    )
    .await;
    let sorted = |descending| AssetQuery {
        sort: SortKey::AssetOrder,
        descending,
        ..query(project)
    };
    let listed = |q| {
        let c = c.clone();
        async move {
            let page = c.list_assets(&q).await.unwrap();
            page.assets
                .into_iter()
                .map(|a| a.asset_name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(sorted(false)).await,
        ["n2", "n3", "n0", "n5", "n4", "n1"]
    );
    assert_eq!(
        listed(sorted(true)).await,
        ["n5", "n3", "n0", "n2", "n4", "n1"]
    );
    let page = AssetQuery {
        offset: 2,
        limit: 2,
        ..sorted(false)
    };
    assert_eq!(listed(page).await, ["n0", "n5"]);
}
