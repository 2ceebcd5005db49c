mod common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn a_signed_create_then_show_round_trips() {
    let server = TestServer::spawn().await;
    let c = &server.client;
    let id = c
        .create_asset(&json!({"asset_name": "Sara", "asset_type": "IMAGE", "tags": ["a"]}))
        .await;
    let shown = c.show(&id).await;
    assert_eq!(shown["asset_name"], "Sara");
    assert_eq!(shown["asset_state"], "CREATING");
    assert_eq!(shown["tags"], json!(["a"]));
}
