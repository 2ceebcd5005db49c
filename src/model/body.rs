//! Request bodies of the asset endpoints and [`parse_json`], which turns bytes into them.
//!
//! Parsing does the type-level checks: JSON syntax, JSON types, enum spellings and required
//! fields. Unknown fields are ignored, as the SDK may send fields newer than this server.
//! Value rules (lengths, ranges) are checked afterwards with `Validate`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_path_to_error::{Path, Segment};

use super::enums::{AssetState, AssetType, BatchAction, SupportedService};
use super::meta::{
    AssetExtraMeta, AssetSharedConfig, AutoOperationConfig, ReviewConfig, SystemProperty,
};
use super::validate::ValidationError;

/// Body of `create_digital_asset` (POST `/v1/{project_id}/digital-assets`, seed table 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateAssetBody {
    /// Asset name, 0–256 characters; required.
    pub asset_name: String,
    /// Asset description, 0–4096 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_description: Option<String>,
    /// Asset type; required. `VOICE_MODEL` and `HUMAN_MODEL_2D` are for administrators.
    pub asset_type: AssetType,
    /// Content-review settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_config: Option<ReviewConfig>,
    /// Tags: at most 50, each 0–128 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Per-type metadata; only the member matching `asset_type` is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_extra_meta: Option<AssetExtraMeta>,
    /// System properties, at most 50; internal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_properties: Option<Vec<SystemProperty>>,
    /// Sharing settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_config: Option<AssetSharedConfig>,
    /// Generate a cover (video assets only); `false` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_need_generate_cover: Option<bool>,
    /// Console display order, 0~32767.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_order: Option<i32>,
    /// Services the asset may be used by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_service: Option<Vec<SupportedService>>,
    /// Scheduled automatic actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_operation_config: Option<Vec<AutoOperationConfig>>,
}

impl CreateAssetBody {
    /// The first part of the body that only an administrator may send: an admin-only
    /// `asset_type`, or any `system_properties`. `None` if an ordinary tenant may send it.
    ///
    /// Whether to enforce this is the service's decision; this only locates the field.
    pub fn needs_admin(&self) -> Option<ValidationError> {
        admin_only_part(Some(self.asset_type), self.system_properties.as_deref())
    }
}

/// Body of `update_digital_asset` (PUT `/v1/{project_id}/digital-assets/{asset_id}`):
/// a partial update, absent fields stay unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateAssetBody {
    /// Asset name, 0–256 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_name: Option<String>,
    /// Asset description, 0–4096 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_description: Option<String>,
    /// New asset type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_type: Option<AssetType>,
    /// Requested state; tenants may only ask for the states of
    /// [`AssetState::settable_by_update`], which the service enforces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_state: Option<AssetState>,
    /// Content-review settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_config: Option<ReviewConfig>,
    /// Tags: at most 50, each 0–128 characters; replaces the stored list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Per-type metadata, merged into the stored one (see [`AssetExtraMeta::merge`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_extra_meta: Option<AssetExtraMeta>,
    /// System properties to add or delete (per-item `action`), at most 50.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_properties: Option<Vec<SystemProperty>>,
    /// Sharing settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_config: Option<AssetSharedConfig>,
    /// Console display order, 0~32767.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_order: Option<i32>,
    /// Services the asset may be used by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_service: Option<Vec<SupportedService>>,
    /// Scheduled automatic actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_operation_config: Option<Vec<AutoOperationConfig>>,
}

impl UpdateAssetBody {
    /// The first part of the body that only an administrator may send: a change to an
    /// admin-only `asset_type`, or any `system_properties`. `None` if a tenant may send it.
    pub fn needs_admin(&self) -> Option<ValidationError> {
        admin_only_part(self.asset_type, self.system_properties.as_deref())
    }
}

fn admin_only_part(
    asset_type: Option<AssetType>,
    system_properties: Option<&[SystemProperty]>,
) -> Option<ValidationError> {
    if let Some(t) = asset_type.filter(AssetType::admin_only) {
        return Some(ValidationError::new(
            "asset_type",
            format!("{t} is reserved for administrators"),
        ));
    }
    match system_properties {
        Some(props) if !props.is_empty() => Some(ValidationError::new(
            "system_properties",
            "are reserved for administrators",
        )),
        _ => None,
    }
}

/// Body of `list_asset_summary` (POST `/v1/{project_id}/digital-assets/summarys`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListAssetSummarysBody {
    /// Ids of the assets to summarize; required.
    pub asset_ids: Vec<String>,
}

/// Body of `batch_execute_asset_action` (POST `/v1/{project_id}/digital-assets/batch-action`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchAssetActionBody {
    /// Operation to run on every asset; required.
    pub action: BatchAction,
    /// Target assets; required.
    pub asset_ids: Vec<String>,
    /// Operation parameters (free text, format undocumented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
}

/// Why a request body could not be turned into its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON at all: a syntax error, truncated input, or a top-level value that is not an
    /// object. The text gives position and reason but never echoes the input.
    #[error("malformed JSON body: {0}")]
    Malformed(String),
    /// Well-formed JSON with a wrong type, an unknown enum spelling or a missing required field.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// Longest rule text copied from a deserializer message, to bound what reaches a response.
const MAX_RULE_CHARS: usize = 300;

/// Parses a JSON request body into `T`, naming the offending field on failure.
///
/// Syntax errors, EOF and a non-object top level give [`BodyError::Malformed`]; data errors
/// give [`BodyError::Invalid`] whose `field` is the dotted path (`tags[3]`,
/// `asset_extra_meta.voice_model_meta.sex`) and whose `rule` is a short human sentence
/// ("expected a string", "must be one of …", "is required").
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    // serde's derived structs also accept a JSON array (fields by position); a body must be
    // an object, so anything else at the top is refused before serde sees it.
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first.is_some_and(|b| *b != b'{') {
        return Err(not_an_object());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(into_body_error)?;
    de.end().map_err(|e| BodyError::Malformed(e.to_string()))?;
    if let Some(field) = nul_field(bytes) {
        return Err(ValidationError::new(field, "must not contain U+0000 (NUL)").into());
    }
    Ok(value)
}

/// Where the body holds U+0000 in a key or string, if anywhere. No catalogue stores it
/// (PostgreSQL refuses it in text), so it is refused here, alike on every backend. JSON can
/// only spell it `\u0000`, so bodies without that escape are not parsed a second time.
fn nul_field(bytes: &[u8]) -> Option<String> {
    let escaped = bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
    if !escaped {
        return None;
    }
    fn find(value: &serde_json::Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| find(item, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
                if key.contains('\0') {
                    Some(join(key))
                } else {
                    find(item, &join(key))
                }
            }),
            _ => None,
        }
    }
    find(&serde_json::from_slice(bytes).ok()?, "")
}

fn into_body_error(err: serde_path_to_error::Error<serde_json::Error>) -> BodyError {
    let path = dotted(err.path());
    let inner = err.into_inner();
    if inner.classify() != Category::Data {
        return BodyError::Malformed(inner.to_string());
    }
    BodyError::Invalid(describe(path, &strip_position(&inner)))
}

fn not_an_object() -> BodyError {
    BodyError::Malformed("the body must be a JSON object".to_owned())
}

/// serde_json appends " at line L column C" to every positioned message; the field path
/// replaces it.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// Renders a path as `a.b[3].c`, or `""` for the top level.
fn dotted(path: &Path) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// Turns a serde data-error message at `path` into a field and a rule sentence.
fn describe(path: String, message: &str) -> ValidationError {
    let join = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = backticked(message, "missing field ") {
        return ValidationError::new(join(name), "is required");
    }
    if let Some(name) = backticked(message, "duplicate field ") {
        return ValidationError::new(join(name), "must not be given more than once");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let rule = if rest.starts_with("null,") {
            "must not be null".to_owned()
        } else {
            format!("expected {}", noun(expected(rest)))
        };
        return ValidationError::new(path, rule);
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let rule = match expected(rest) {
            "i32" => format!("must be an integer between {} and {}", i32::MIN, i32::MAX),
            "i64" => format!("must be an integer between {} and {}", i64::MIN, i64::MAX),
            other => format!("expected {}", noun(other)),
        };
        return ValidationError::new(path, rule);
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        return ValidationError::new(path, format!("expected {}", noun(expected(rest))));
    }
    // Custom messages (our enums' "must be one of …") are already rule sentences.
    ValidationError::new(
        path,
        message.chars().take(MAX_RULE_CHARS).collect::<String>(),
    )
}

/// The name between backticks after `prefix`, as in "missing field `asset_name`".
fn backticked<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message
        .strip_prefix(prefix)?
        .strip_prefix('`')?
        .strip_suffix('`')
}

/// The part after ", expected " of a serde message; the part before may quote client input.
fn expected(rest: &str) -> &str {
    rest.rsplit_once(", expected ").map_or("", |(_, e)| e)
}

/// A JSON-level name for what a Rust visitor expected.
fn noun(expected: &str) -> &str {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "an integer",
        "f32" | "f64" => "a number",
        "a sequence" => "an array",
        "a map" => "an object",
        e if e.starts_with("struct ") => "an object",
        "" => "another type",
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::enums::{SystemPropertyKey, VoiceSex};

    fn invalid<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> ValidationError {
        match parse_json::<T>(json.as_bytes()) {
            Err(BodyError::Invalid(e)) => e,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn malformed<T: DeserializeOwned + std::fmt::Debug>(json: &[u8]) -> String {
        match parse_json::<T>(json) {
            Err(BodyError::Malformed(m)) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn nul_characters_are_refused_with_their_field() {
        let e = invalid::<CreateAssetBody>(
            r#"{"asset_name": "a", "asset_type": "IMAGE", "tags": ["ok", "bad\u0000tag"]}"#,
        );
        assert_eq!(e.field, "tags[1]");
        let e = invalid::<CreateAssetBody>(r#"{"asset_name": "x\u0000", "asset_type": "IMAGE"}"#);
        assert_eq!(e.field, "asset_name");
        // An escaped backslash followed by "u0000" is six ordinary characters.
        let body: CreateAssetBody =
            parse_json(br#"{"asset_name": "x\\u0000", "asset_type": "IMAGE"}"#).unwrap();
        assert_eq!(body.asset_name, "x\\u0000");
    }

    #[test]
    fn the_documented_example_request_parses() {
        let body: CreateAssetBody = parse_json(
            br#"{
              "asset_name" : "Sara Model",
              "asset_description" : "Virtual employee",
              "asset_type" : "HUMAN_MODEL_2D",
              "tags" : [ "Virtual employee" ]
            }"#,
        )
        .unwrap();
        assert_eq!(body.asset_name, "Sara Model");
        assert_eq!(body.asset_type, AssetType::HumanModel2D);
        assert_eq!(body.tags, Some(vec!["Virtual employee".to_owned()]));
    }

    #[test]
    fn a_full_create_body_round_trips() {
        let json = json!({
            "asset_name": "bg",
            "asset_description": "d",
            "asset_type": "IMAGE",
            "review_config": {"no_need_review": true},
            "tags": ["NEWS"],
            "asset_extra_meta": {"image_meta": {"width": 1920, "mode": "Horizontal"}},
            "system_properties": [{"action": "ADD", "key": "BACKGROUND_IMG", "value": "Yes"}],
            "shared_config": {"shared_type": "SHARED", "expire_time": "2025-01-10T00:00:00Z", "allowed_project_ids": ["p1"]},
            "is_need_generate_cover": false,
            "asset_order": 3,
            "supported_service": ["VIDEO_2D", "CHAT_2D"],
            "auto_operation_config": [{"operation": "DELETE", "operation_time": "2025-01-10T00:00:00Z"}]
        });
        let body: CreateAssetBody = parse_json(json.to_string().as_bytes()).unwrap();
        assert_eq!(serde_json::to_value(&body).unwrap(), json);
        let props = body.system_properties.unwrap();
        assert_eq!(props[0].key, Some(SystemPropertyKey::BackgroundImg));
    }

    #[test]
    fn unknown_fields_are_ignored_at_every_level() {
        let body: CreateAssetBody = parse_json(
            br#"{"asset_name":"a","asset_type":"VOICE_MODEL","brand_new":[1,{"x":null}],
                "asset_extra_meta":{"voice_model_meta":{"sex":"MALE","timbre":"warm"}},
                "review_config":{"no_need_review":false,"extra":1}}"#,
        )
        .unwrap();
        let voice = body.asset_extra_meta.unwrap().voice_model_meta.unwrap();
        assert_eq!(voice.sex, Some(VoiceSex::Male));
    }

    #[test]
    fn business_card_template_alias_is_accepted_on_create() {
        let body: CreateAssetBody =
            parse_json(br#"{"asset_name":"c","asset_type":"BUSINESS_CARD_TEMPLATE"}"#).unwrap();
        assert_eq!(body.asset_type, AssetType::BusinessCardTemplet);
        assert_eq!(
            serde_json::to_value(&body).unwrap()["asset_type"],
            "BUSINESS_CARD_TEMPLET"
        );
    }

    #[test]
    fn missing_asset_name_is_refused_as_required() {
        let err = invalid::<CreateAssetBody>(r#"{"asset_type":"VIDEO"}"#);
        assert_eq!(err, ValidationError::new("asset_name", "is required"));
    }

    #[test]
    fn missing_asset_type_is_refused_as_required() {
        let err = invalid::<CreateAssetBody>(r#"{"asset_name":"a"}"#);
        assert_eq!(err, ValidationError::new("asset_type", "is required"));
    }

    #[test]
    fn missing_required_field_in_a_nested_object_names_the_full_path() {
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"VOICE_MODEL",
               "asset_extra_meta":{"voice_model_meta":{"external_voice_meta":{}}}}"#,
        );
        assert_eq!(
            err.field,
            "asset_extra_meta.voice_model_meta.external_voice_meta.provider"
        );
        assert_eq!(err.rule, "is required");
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"MATERIAL",
               "asset_extra_meta":{"material_meta":{"components":[{"component_type":"HAIR"}]}}}"#,
        );
        assert_eq!(
            err.field,
            "asset_extra_meta.material_meta.components[0].component_name"
        );
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"HUMAN_MODEL_2D",
               "asset_extra_meta":{"human_model_2d_meta":{"action_tag_map":[{"action_name_zh":"z"}]}}}"#,
        );
        assert_eq!(
            err.field,
            "asset_extra_meta.human_model_2d_meta.action_tag_map[0].action_name_en"
        );
    }

    #[test]
    fn unknown_asset_type_is_refused_with_the_accepted_list() {
        let err = invalid::<CreateAssetBody>(r#"{"asset_name":"a","asset_type":"video"}"#);
        assert_eq!(err.field, "asset_type");
        assert!(
            err.rule
                .starts_with("must be one of VOICE_MODEL, VIDEO, IMAGE"),
            "{}",
            err.rule
        );
    }

    #[test]
    fn unknown_enum_in_a_nested_meta_names_the_full_path() {
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"VOICE_MODEL",
               "asset_extra_meta":{"voice_model_meta":{"sex":"male"}}}"#,
        );
        assert_eq!(
            err,
            ValidationError::new(
                "asset_extra_meta.voice_model_meta.sex",
                "must be one of UNKNOW, MALE, FEMALE"
            )
        );
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"VOICE_MODEL",
               "asset_extra_meta":{"voice_model_meta":{"languages":["CN","FR"]}}}"#,
        );
        assert_eq!(err.field, "asset_extra_meta.voice_model_meta.languages[1]");
    }

    #[test]
    fn enum_values_are_checked_even_in_unmatched_sub_metas() {
        // Only value rules are skipped for unmatched members; the JSON still has to parse.
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE",
               "asset_extra_meta":{"video_meta":{"mode":"horizontal"}}}"#,
        );
        assert_eq!(err.field, "asset_extra_meta.video_meta.mode");
    }

    #[test]
    fn wrong_json_type_is_refused_with_the_dotted_field() {
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE","tags":["x","y","z",4]}"#,
        );
        assert_eq!(err, ValidationError::new("tags[3]", "expected a string"));
        let err = invalid::<CreateAssetBody>(r#"{"asset_name":5,"asset_type":"IMAGE"}"#);
        assert_eq!(err, ValidationError::new("asset_name", "expected a string"));
        let err = invalid::<CreateAssetBody>(r#"{"asset_name":"a","asset_type":7}"#);
        assert_eq!(err, ValidationError::new("asset_type", "expected a string"));
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE","asset_order":"1"}"#,
        );
        assert_eq!(
            err,
            ValidationError::new("asset_order", "expected an integer")
        );
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE","asset_order":1.5}"#,
        );
        assert_eq!(
            err,
            ValidationError::new("asset_order", "expected an integer")
        );
        let err =
            invalid::<CreateAssetBody>(r#"{"asset_name":"a","asset_type":"IMAGE","tags":"x"}"#);
        assert_eq!(err, ValidationError::new("tags", "expected an array"));
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE","review_config":[]}"#,
        );
        assert_eq!(
            err,
            ValidationError::new("review_config", "expected an object")
        );
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE","is_need_generate_cover":"true"}"#,
        );
        assert_eq!(
            err,
            ValidationError::new("is_need_generate_cover", "expected a boolean")
        );
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"VOICE_MODEL","asset_extra_meta":{"voice_model_meta":{"speed_ratio":"fast"}}}"#,
        );
        assert_eq!(
            err,
            ValidationError::new(
                "asset_extra_meta.voice_model_meta.speed_ratio",
                "expected a number"
            )
        );
    }

    #[test]
    fn integer_outside_i32_is_refused_as_out_of_range() {
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_type":"IMAGE","asset_order":3000000000}"#,
        );
        assert_eq!(err.field, "asset_order");
        assert_eq!(
            err.rule,
            "must be an integer between -2147483648 and 2147483647"
        );
    }

    #[test]
    fn null_for_a_required_field_is_refused() {
        let err = invalid::<CreateAssetBody>(r#"{"asset_name":null,"asset_type":"IMAGE"}"#);
        assert_eq!(err, ValidationError::new("asset_name", "must not be null"));
    }

    #[test]
    fn null_for_an_optional_field_means_absent() {
        let body: CreateAssetBody = parse_json(
            br#"{"asset_name":"a","asset_type":"IMAGE","tags":null,"asset_order":null}"#,
        )
        .unwrap();
        assert_eq!((body.tags, body.asset_order), (None, None));
    }

    #[test]
    fn duplicate_field_is_refused() {
        let err = invalid::<CreateAssetBody>(
            r#"{"asset_name":"a","asset_name":"b","asset_type":"IMAGE"}"#,
        );
        assert_eq!(err.field, "asset_name");
    }

    #[test]
    fn error_messages_do_not_echo_client_input() {
        let huge = "Z".repeat(10_000);
        let err =
            invalid::<CreateAssetBody>(&format!(r#"{{"asset_name":"a","asset_type":"{huge}"}}"#));
        assert!(!err.rule.contains("ZZZ"));
        let err = invalid::<CreateAssetBody>(&format!(
            r#"{{"asset_name":"a","asset_type":"IMAGE","asset_order":"{huge}"}}"#
        ));
        assert!(!err.rule.contains("ZZZ"));
        let m = malformed::<CreateAssetBody>(format!(r#"{{"asset_name":"{huge}"#).as_bytes());
        assert!(m.len() < 100, "{m}");
    }

    #[test]
    fn malformed_json_is_refused_as_malformed() {
        malformed::<CreateAssetBody>(b"{\"asset_name\": }");
        malformed::<CreateAssetBody>(b"{\"asset_name\": \"a\",}");
        malformed::<CreateAssetBody>(b"not json");
        malformed::<CreateAssetBody>(b"\xff\xfe");
    }

    #[test]
    fn empty_or_truncated_body_is_malformed() {
        malformed::<CreateAssetBody>(b"");
        malformed::<CreateAssetBody>(b"   ");
        malformed::<CreateAssetBody>(br#"{"asset_name":"a","asset_type":"IM"#);
    }

    #[test]
    fn trailing_data_after_the_object_is_malformed() {
        malformed::<CreateAssetBody>(br#"{"asset_name":"a","asset_type":"IMAGE"} {}"#);
    }

    #[test]
    fn a_top_level_value_that_is_not_an_object_is_malformed() {
        for body in [
            &b"[]"[..],
            br#"["a","IMAGE"]"#,
            b"null",
            b"42",
            b"\"asset\"",
            b"true",
        ] {
            let m = malformed::<CreateAssetBody>(body);
            assert_eq!(m, "the body must be a JSON object");
        }
    }

    #[test]
    fn body_error_display_is_readable() {
        let err = parse_json::<CreateAssetBody>(br#"{"asset_type":"IMAGE"}"#).unwrap_err();
        assert_eq!(err.to_string(), "asset_name: is required");
        let err = parse_json::<CreateAssetBody>(b"{").unwrap_err();
        assert!(
            err.to_string().starts_with("malformed JSON body: EOF"),
            "{err}"
        );
    }

    #[test]
    fn update_body_fields_are_all_optional() {
        let body: UpdateAssetBody = parse_json(b"{}").unwrap();
        assert_eq!(body, UpdateAssetBody::default());
        assert_eq!(serde_json::to_string(&body).unwrap(), "{}");
        let body: UpdateAssetBody =
            parse_json(br#"{"asset_state":"UNACTIVED","supported_service":["LIVE_2D"]}"#).unwrap();
        assert_eq!(body.asset_state, Some(AssetState::Unactived));
        let err = invalid::<UpdateAssetBody>(r#"{"asset_state":"ACTIVE"}"#);
        assert_eq!(err.field, "asset_state");
    }

    #[test]
    fn summary_body_requires_asset_ids() {
        let body: ListAssetSummarysBody = parse_json(br#"{"asset_ids":["a","b"]}"#).unwrap();
        assert_eq!(body.asset_ids, ["a", "b"]);
        let err = invalid::<ListAssetSummarysBody>("{}");
        assert_eq!(err, ValidationError::new("asset_ids", "is required"));
    }

    #[test]
    fn batch_body_requires_action_and_asset_ids() {
        let body: BatchAssetActionBody =
            parse_json(br#"{"action":"DELETE_FORCE","asset_ids":["a"],"params":"{}"}"#).unwrap();
        assert_eq!(body.action, BatchAction::DeleteForce);
        assert_eq!(body.params.as_deref(), Some("{}"));
        assert_eq!(
            invalid::<BatchAssetActionBody>(r#"{"asset_ids":[]}"#).field,
            "action"
        );
        assert_eq!(
            invalid::<BatchAssetActionBody>(r#"{"action":"SHARE"}"#).field,
            "asset_ids"
        );
        assert_eq!(
            invalid::<BatchAssetActionBody>(r#"{"action":"PURGE","asset_ids":[]}"#).field,
            "action"
        );
    }

    #[test]
    fn admin_only_types_and_system_properties_are_located() {
        let body: CreateAssetBody =
            parse_json(br#"{"asset_name":"a","asset_type":"VOICE_MODEL"}"#).unwrap();
        assert_eq!(body.needs_admin().unwrap().field, "asset_type");
        let body: CreateAssetBody = parse_json(
            br#"{"asset_name":"a","asset_type":"IMAGE","system_properties":[{"key":"MATERIAL_IMG","value":"Yes"}]}"#,
        )
        .unwrap();
        assert_eq!(body.needs_admin().unwrap().field, "system_properties");
        let body: CreateAssetBody =
            parse_json(br#"{"asset_name":"a","asset_type":"IMAGE","system_properties":[]}"#)
                .unwrap();
        assert_eq!(body.needs_admin(), None);
        let body: UpdateAssetBody = parse_json(br#"{"asset_type":"HUMAN_MODEL_2D"}"#).unwrap();
        assert_eq!(body.needs_admin().unwrap().field, "asset_type");
        assert_eq!(UpdateAssetBody::default().needs_admin(), None);
    }
}
