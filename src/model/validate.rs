//! Value rules of the asset API: lengths, ranges, counts and time formats.
//!
//! Parsing (`body.rs`) already refuses wrong JSON types, unknown enum spellings and missing
//! required fields; what is left is checked here through [`Validate`]. Lengths are counted in
//! Unicode characters, not bytes. The first broken rule is reported as a [`ValidationError`]
//! whose `field` is the full dotted path (`asset_extra_meta.human_model_2d_meta.device_names[2]`).
//! Rules that depend on who is calling (admin-only types and properties) or on stored state
//! belong to the service.

use std::fmt::Display;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::body::{CreateAssetBody, UpdateAssetBody};
use super::enums::AssetType;
use super::meta::{
    ActionTagInfo, AssetExtraMeta, AssetSharedConfig, AudioAssetMeta, AutoOperationConfig,
    HumanModel2DAssetMeta, ImageAssetMeta, PptAssetMeta, PptPageInfo, SystemProperty,
    VideoAssetMeta, VoiceCapability, VoiceModelAssetMeta,
};

/// A request value that breaks a rule of the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ValidationError {
    /// Dotted path of the offending value, e.g. `tags[3]` or `asset_extra_meta.ppt_meta.page_count`.
    pub field: String,
    /// What the value must be, e.g. "must be between 0 and 32767".
    pub rule: String,
}

impl ValidationError {
    /// Builds an error for `field` breaking `rule`.
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// Checks the value rules of a request object.
pub trait Validate {
    /// Checks every rule, naming fields relative to `at`, the dotted path of `self` inside the
    /// request (`""` for the request body itself).
    fn validate_at(&self, at: &str) -> Result<(), ValidationError>;

    /// Checks every rule, naming fields relative to `self`.
    fn validate(&self) -> Result<(), ValidationError> {
        self.validate_at("")
    }
}

// Upper bounds and lengths from seed tables 3–21.
const MAX_ASSET_NAME_CHARS: usize = 256;
const MAX_DESCRIPTION_CHARS: usize = 4096;
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 128;
const MAX_SYSTEM_PROPERTIES: usize = 50;
const MAX_PROPERTY_VALUE_CHARS: usize = 1024;
const MAX_ORDER: i32 = 32767;
const MAX_ID_CHARS: usize = 64;
const MAX_DEVICE_NAMES: usize = 16;
const MAX_CODEC_CHARS: usize = 32;
const MAX_DIMENSION: i32 = 8196;
const MAX_DURATION_S: i32 = 86400;
const MAX_AUDIO_BIT_RATE: i32 = 16384;

/// `at.name`, or `name` at the root.
fn child(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

/// `at.name[index]`.
fn item(at: &str, name: &str, index: usize) -> String {
    format!("{}[{index}]", child(at, name))
}

/// Attaches a field path, built only on failure, to a rule result.
trait At {
    fn at(self, field: impl FnOnce() -> String) -> Result<(), ValidationError>;
}

impl At for Result<(), String> {
    fn at(self, field: impl FnOnce() -> String) -> Result<(), ValidationError> {
        self.map_err(|rule| ValidationError {
            field: field(),
            rule,
        })
    }
}

fn chars(min: usize, max: usize, value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(format!("must be {min} to {max} characters long"))
    }
}

fn between<T: PartialOrd + Display>(min: T, max: T, value: T) -> Result<(), String> {
    if min <= value && value <= max {
        Ok(())
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

fn finite_between(min: f64, max: f64, value: f64) -> Result<(), String> {
    if value.is_finite() {
        between(min, max, value)
    } else {
        Err(format!("must be a finite number between {min} and {max}"))
    }
}

fn non_negative(value: i64) -> Result<(), String> {
    if value >= 0 {
        Ok(())
    } else {
        Err("must not be negative".to_owned())
    }
}

fn at_most_items(max: usize, len: usize) -> Result<(), String> {
    if len <= max {
        Ok(())
    } else {
        Err(format!("must not have more than {max} items"))
    }
}

fn rfc3339(value: &str) -> Result<(), String> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map(|_| ())
        .map_err(|_| "must be an RFC 3339 date-time such as 2025-01-10T00:00:00Z".to_owned())
}

/// Runs `check` on the value if there is one.
fn opt<T>(value: Option<T>, check: impl FnOnce(T) -> Result<(), String>) -> Result<(), String> {
    value.map_or(Ok(()), check)
}

/// Checks the length of an optional list of strings and of each item.
fn string_list(
    at: &str,
    name: &str,
    list: Option<&Vec<String>>,
    max_items: Option<usize>,
    (min_chars, max_chars): (usize, usize),
) -> Result<(), ValidationError> {
    let Some(list) = list else { return Ok(()) };
    if let Some(max) = max_items {
        at_most_items(max, list.len()).at(|| child(at, name))?;
    }
    for (i, s) in list.iter().enumerate() {
        chars(min_chars, max_chars, s).at(|| item(at, name, i))?;
    }
    Ok(())
}

/// Validates each element of an optional list at `at.name[i]`.
fn each<T: Validate>(at: &str, name: &str, list: Option<&Vec<T>>) -> Result<(), ValidationError> {
    for (i, v) in list.into_iter().flatten().enumerate() {
        v.validate_at(&item(at, name, i))?;
    }
    Ok(())
}

/// Validates an optional nested object at `at.name`.
fn nested<T: Validate>(at: &str, name: &str, value: Option<&T>) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| v.validate_at(&child(at, name)))
}

/// The body fields that create and update share, all optional here.
struct CommonFields<'a> {
    asset_name: Option<&'a str>,
    asset_description: Option<&'a str>,
    tags: Option<&'a Vec<String>>,
    asset_extra_meta: Option<&'a AssetExtraMeta>,
    system_properties: Option<&'a Vec<SystemProperty>>,
    shared_config: Option<&'a AssetSharedConfig>,
    asset_order: Option<i32>,
    auto_operation_config: Option<&'a Vec<AutoOperationConfig>>,
}

impl CommonFields<'_> {
    /// `meta_type` selects the checked member of `asset_extra_meta`; `None` checks them all.
    fn validate_at(&self, at: &str, meta_type: Option<AssetType>) -> Result<(), ValidationError> {
        opt(self.asset_name, |v| chars(0, MAX_ASSET_NAME_CHARS, v))
            .at(|| child(at, "asset_name"))?;
        opt(self.asset_description, |v| {
            chars(0, MAX_DESCRIPTION_CHARS, v)
        })
        .at(|| child(at, "asset_description"))?;
        string_list(at, "tags", self.tags, Some(MAX_TAGS), (0, MAX_TAG_CHARS))?;
        if let Some(meta) = self.asset_extra_meta {
            let meta_at = child(at, "asset_extra_meta");
            match meta_type {
                Some(t) => meta.validate_for_at(t, &meta_at)?,
                None => meta.validate_at(&meta_at)?,
            }
        }
        if let Some(props) = self.system_properties {
            at_most_items(MAX_SYSTEM_PROPERTIES, props.len())
                .at(|| child(at, "system_properties"))?;
        }
        each(at, "system_properties", self.system_properties)?;
        nested(at, "shared_config", self.shared_config)?;
        opt(self.asset_order, |v| between(0, MAX_ORDER, v)).at(|| child(at, "asset_order"))?;
        each(at, "auto_operation_config", self.auto_operation_config)
    }
}

impl<'a> From<&'a CreateAssetBody> for CommonFields<'a> {
    fn from(b: &'a CreateAssetBody) -> Self {
        CommonFields {
            asset_name: Some(&b.asset_name),
            asset_description: b.asset_description.as_deref(),
            tags: b.tags.as_ref(),
            asset_extra_meta: b.asset_extra_meta.as_ref(),
            system_properties: b.system_properties.as_ref(),
            shared_config: b.shared_config.as_ref(),
            asset_order: b.asset_order,
            auto_operation_config: b.auto_operation_config.as_ref(),
        }
    }
}

impl<'a> From<&'a UpdateAssetBody> for CommonFields<'a> {
    fn from(b: &'a UpdateAssetBody) -> Self {
        CommonFields {
            asset_name: b.asset_name.as_deref(),
            asset_description: b.asset_description.as_deref(),
            tags: b.tags.as_ref(),
            asset_extra_meta: b.asset_extra_meta.as_ref(),
            system_properties: b.system_properties.as_ref(),
            shared_config: b.shared_config.as_ref(),
            asset_order: b.asset_order,
            auto_operation_config: b.auto_operation_config.as_ref(),
        }
    }
}

impl Validate for CreateAssetBody {
    /// Checks every field; of `asset_extra_meta` only the member matching `asset_type`.
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        CommonFields::from(self).validate_at(at, Some(self.asset_type))
    }
}

impl Validate for UpdateAssetBody {
    /// Checks every field. Of `asset_extra_meta` only the member matching `asset_type` when
    /// the body names a type; without one it checks every member present, since the stored
    /// type is unknown here — prefer [`UpdateAssetBody::validate_for`] in the service.
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        CommonFields::from(self).validate_at(at, self.asset_type)
    }
}

impl UpdateAssetBody {
    /// Checks every field, taking the body's `asset_type` or else `stored_type` (the asset's
    /// current type) to pick the member of `asset_extra_meta` that is checked.
    pub fn validate_for(&self, stored_type: AssetType) -> Result<(), ValidationError> {
        CommonFields::from(self).validate_at("", Some(self.asset_type.unwrap_or(stored_type)))
    }
}

impl AssetExtraMeta {
    /// Checks only the member that matches `t`; unmatched members are ignored, not checked.
    pub fn validate_for(&self, t: AssetType) -> Result<(), ValidationError> {
        self.validate_for_at(t, "")
    }

    /// [`AssetExtraMeta::validate_for`] with field names relative to `at`.
    pub fn validate_for_at(&self, t: AssetType, at: &str) -> Result<(), ValidationError> {
        match t {
            AssetType::HumanModel2D => {
                nested(at, "human_model_2d_meta", self.human_model_2d_meta.as_ref())
            }
            AssetType::Material => Ok(()),
            AssetType::VoiceModel => nested(at, "voice_model_meta", self.voice_model_meta.as_ref()),
            AssetType::Video => nested(at, "video_meta", self.video_meta.as_ref()),
            AssetType::Image => nested(at, "image_meta", self.image_meta.as_ref()),
            AssetType::Ppt => nested(at, "ppt_meta", self.ppt_meta.as_ref()),
            AssetType::Audio | AssetType::Music => {
                nested(at, "audio_meta", self.audio_meta.as_ref())
            }
            AssetType::CommonFile | AssetType::BusinessCardTemplet => Ok(()),
        }
    }
}

impl Validate for AssetExtraMeta {
    /// Checks every member present, whatever the asset type.
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        nested(at, "voice_model_meta", self.voice_model_meta.as_ref())?;
        nested(at, "ppt_meta", self.ppt_meta.as_ref())?;
        // material_meta has no value rules: its required fields are enforced while parsing.
        nested(at, "human_model_2d_meta", self.human_model_2d_meta.as_ref())?;
        nested(at, "image_meta", self.image_meta.as_ref())?;
        nested(at, "video_meta", self.video_meta.as_ref())?;
        nested(at, "audio_meta", self.audio_meta.as_ref())
    }
}

impl Validate for VoiceModelAssetMeta {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.order, |v| between(0, MAX_ORDER, v)).at(|| child(at, "order"))?;
        opt(self.speed_ratio, |v| finite_between(0.0, 100.0, v)).at(|| child(at, "speed_ratio"))?;
        opt(self.volume_ratio, |v| finite_between(0.0, 100.0, v))
            .at(|| child(at, "volume_ratio"))?;
        nested(at, "voice_capability", self.voice_capability.as_ref())
    }
}

impl Validate for VoiceCapability {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.conversion_rate, |v| finite_between(0.0, 50.0, v))
            .at(|| child(at, "conversion_rate"))?;
        opt(self.conversion_rate_en, |v| finite_between(0.0, 50.0, v))
            .at(|| child(at, "conversion_rate_en"))
    }
}

impl Validate for PptAssetMeta {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.page_count, |v| between(0, 256, v)).at(|| child(at, "page_count"))?;
        each(at, "pages", self.pages.as_ref())
    }
}

impl Validate for PptPageInfo {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.page_no, |v| between(1, 256, v)).at(|| child(at, "page_no"))?;
        opt(self.file_id.as_deref(), |v| chars(1, MAX_ID_CHARS, v)).at(|| child(at, "file_id"))?;
        opt(self.page_content.as_deref(), |v| chars(0, 2048, v)).at(|| child(at, "page_content"))
    }
}

impl Validate for HumanModel2DAssetMeta {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        string_list(
            at,
            "device_names",
            self.device_names.as_ref(),
            Some(MAX_DEVICE_NAMES),
            (1, MAX_ID_CHARS),
        )?;
        each(at, "action_tag_map", self.action_tag_map.as_ref())
    }
}

impl Validate for ActionTagInfo {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.action_duration, |v| finite_between(0.0, 100.0, v))
            .at(|| child(at, "action_duration"))?;
        opt(self.file_name.as_deref(), |v| chars(1, 256, v)).at(|| child(at, "file_name"))
    }
}

impl Validate for ImageAssetMeta {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.codec.as_deref(), |v| chars(0, MAX_CODEC_CHARS, v)).at(|| child(at, "codec"))?;
        opt(self.width, |v| between(0, MAX_DIMENSION, v)).at(|| child(at, "width"))?;
        opt(self.height, |v| between(0, MAX_DIMENSION, v)).at(|| child(at, "height"))?;
        opt(self.size, non_negative).at(|| child(at, "size"))?;
        opt(self.frame_rate.as_deref(), |v| chars(0, MAX_CODEC_CHARS, v))
            .at(|| child(at, "frame_rate"))?;
        opt(self.duration, |v| between(0, MAX_DURATION_S, v)).at(|| child(at, "duration"))
    }
}

impl Validate for VideoAssetMeta {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.video_codec.as_deref(), |v| {
            chars(0, MAX_CODEC_CHARS, v)
        })
        .at(|| child(at, "video_codec"))?;
        opt(self.width, |v| between(0, MAX_DIMENSION, v)).at(|| child(at, "width"))?;
        opt(self.height, |v| between(0, MAX_DIMENSION, v)).at(|| child(at, "height"))?;
        opt(self.frame_rate.as_deref(), |v| chars(0, MAX_CODEC_CHARS, v))
            .at(|| child(at, "frame_rate"))?;
        opt(self.video_bit_rate, |v| between(0, 104_857_600, v))
            .at(|| child(at, "video_bit_rate"))?;
        opt(self.duration, |v| between(0, MAX_DURATION_S, v)).at(|| child(at, "duration"))?;
        opt(self.audio_codec.as_deref(), |v| {
            chars(0, MAX_CODEC_CHARS, v)
        })
        .at(|| child(at, "audio_codec"))?;
        opt(self.audio_bit_rate, |v| between(0, MAX_AUDIO_BIT_RATE, v))
            .at(|| child(at, "audio_bit_rate"))?;
        opt(self.audio_channels, |v| between(0, 100, v)).at(|| child(at, "audio_channels"))?;
        opt(self.sample, |v| between(0, 100_000, v)).at(|| child(at, "sample"))
    }
}

impl Validate for AudioAssetMeta {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.duration, |v| between(0, MAX_DURATION_S, v)).at(|| child(at, "duration"))?;
        opt(self.audio_codec.as_deref(), |v| {
            chars(0, MAX_CODEC_CHARS, v)
        })
        .at(|| child(at, "audio_codec"))?;
        opt(self.audio_bit_rate, |v| between(0, MAX_AUDIO_BIT_RATE, v))
            .at(|| child(at, "audio_bit_rate"))?;
        opt(self.audio_channels, |v| between(0, 100, v)).at(|| child(at, "audio_channels"))?;
        opt(self.sample, |v| between(0, 100_000, v)).at(|| child(at, "sample"))
    }
}

impl Validate for SystemProperty {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.value.as_deref(), |v| {
            chars(1, MAX_PROPERTY_VALUE_CHARS, v)
        })
        .at(|| child(at, "value"))
    }
}

impl Validate for AssetSharedConfig {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.expire_time.as_deref(), rfc3339).at(|| child(at, "expire_time"))?;
        string_list(
            at,
            "allowed_project_ids",
            self.allowed_project_ids.as_ref(),
            None,
            (1, MAX_ID_CHARS),
        )
    }
}

impl Validate for AutoOperationConfig {
    fn validate_at(&self, at: &str) -> Result<(), ValidationError> {
        opt(self.operation_time.as_deref(), rfc3339).at(|| child(at, "operation_time"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::model::body::parse_json;

    /// Parses `body` as a create request and validates it.
    fn verdict(body: Value) -> Result<(), ValidationError> {
        let body: CreateAssetBody = parse_json(body.to_string().as_bytes()).expect("body parses");
        body.validate()
    }

    /// `ok` must pass; `bad` must fail on `field`.
    #[track_caller]
    fn edge(ok: Value, bad: Value, field: &str) {
        assert_eq!(verdict(ok), Ok(()));
        assert_eq!(verdict(bad).map_err(|e| e.field), Err(field.to_owned()));
    }

    fn body(extra: Value) -> Value {
        let mut b = json!({"asset_name": "a", "asset_type": "IMAGE"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    }

    fn with_meta(asset_type: &str, member: &str, meta: Value) -> Value {
        json!({
            "asset_name": "a",
            "asset_type": asset_type,
            "asset_extra_meta": { member: meta }
        })
    }

    fn voice(meta: Value) -> Value {
        with_meta("VOICE_MODEL", "voice_model_meta", meta)
    }
    fn ppt(meta: Value) -> Value {
        with_meta("PPT", "ppt_meta", meta)
    }
    fn avatar(meta: Value) -> Value {
        with_meta("HUMAN_MODEL_2D", "human_model_2d_meta", meta)
    }
    fn image(meta: Value) -> Value {
        with_meta("IMAGE", "image_meta", meta)
    }
    fn video(meta: Value) -> Value {
        with_meta("VIDEO", "video_meta", meta)
    }
    fn audio(meta: Value) -> Value {
        with_meta("AUDIO", "audio_meta", meta)
    }

    fn s(n: usize) -> String {
        "x".repeat(n)
    }

    /// A boundary pair for an integer range rule on the low end and the high end.
    #[track_caller]
    fn int_range(make: impl Fn(Value) -> Value, key: &str, min: i64, max: i64, field: &str) {
        edge(make(json!({key: min})), make(json!({key: min - 1})), field);
        edge(make(json!({key: max})), make(json!({key: max + 1})), field);
    }

    #[test]
    fn minimal_create_body_is_valid() {
        assert_eq!(
            verdict(json!({"asset_name": "", "asset_type": "VIDEO"})),
            Ok(())
        );
    }

    #[test]
    fn asset_name_of_257_characters_is_refused() {
        edge(
            body(json!({"asset_name": s(256)})),
            body(json!({"asset_name": s(257)})),
            "asset_name",
        );
    }

    #[test]
    fn asset_name_of_256_chinese_characters_is_accepted() {
        edge(
            body(json!({"asset_name": "名".repeat(256)})),
            body(json!({"asset_name": "名".repeat(257)})),
            "asset_name",
        );
    }

    #[test]
    fn asset_name_error_reads_as_a_sentence() {
        let err = verdict(body(json!({"asset_name": s(257)}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "asset_name: must be 0 to 256 characters long"
        );
    }

    #[test]
    fn asset_description_of_4097_characters_is_refused() {
        edge(
            body(json!({"asset_description": s(4096)})),
            body(json!({"asset_description": s(4097)})),
            "asset_description",
        );
    }

    #[test]
    fn tag_of_129_characters_is_refused() {
        edge(
            body(json!({"tags": ["", s(128)]})),
            body(json!({"tags": ["", "ok", s(129)]})),
            "tags[2]",
        );
    }

    #[test]
    fn more_than_50_tags_are_refused() {
        edge(
            body(json!({"tags": vec!["t"; 50]})),
            body(json!({"tags": vec!["t"; 51]})),
            "tags",
        );
    }

    #[test]
    fn more_than_50_system_properties_are_refused() {
        let prop = json!({"key": "BACKGROUND_IMG", "value": "Yes"});
        edge(
            body(json!({"system_properties": vec![prop.clone(); 50]})),
            body(json!({"system_properties": vec![prop; 51]})),
            "system_properties",
        );
    }

    #[test]
    fn system_property_value_must_be_1_to_1024_characters() {
        let props = |v: &str| body(json!({"system_properties": [{"action": "ADD", "value": v}]}));
        edge(props("Y"), props(""), "system_properties[0].value");
        edge(
            props(&s(1024)),
            props(&s(1025)),
            "system_properties[0].value",
        );
    }

    #[test]
    fn asset_order_must_be_0_to_32767() {
        int_range(body, "asset_order", 0, 32767, "asset_order");
    }

    #[test]
    fn auto_operation_time_must_be_rfc_3339() {
        let op = |t: &str| {
            body(
                json!({"auto_operation_config": [{}, {"operation": "BLOCK", "operation_time": t}]}),
            )
        };
        edge(
            op("2025-01-10T00:00:00Z"),
            op("2025-01-10 00:00:00"),
            "auto_operation_config[1].operation_time",
        );
        assert_eq!(verdict(op("2025-01-10T08:00:00.5+08:00")), Ok(()));
        assert!(verdict(op("")).is_err());
        assert!(verdict(op("2025-13-10T00:00:00Z")).is_err());
    }

    #[test]
    fn shared_expire_time_must_be_rfc_3339_when_present() {
        let shared =
            |t: Value| body(json!({"shared_config": {"shared_type": "SHARED", "expire_time": t}}));
        edge(
            shared(json!("2025-02-01T23:59:59+08:00")),
            shared(json!("tomorrow")),
            "shared_config.expire_time",
        );
        assert_eq!(verdict(shared(Value::Null)), Ok(()));
    }

    #[test]
    fn allowed_project_ids_must_be_1_to_64_characters() {
        let ids = |id: String| body(json!({"shared_config": {"allowed_project_ids": ["p", id]}}));
        edge(
            ids(s(64)),
            ids(s(65)),
            "shared_config.allowed_project_ids[1]",
        );
        edge(ids(s(1)), ids(s(0)), "shared_config.allowed_project_ids[1]");
    }

    #[test]
    fn voice_order_must_be_0_to_32767() {
        int_range(
            voice,
            "order",
            0,
            32767,
            "asset_extra_meta.voice_model_meta.order",
        );
    }

    #[test]
    fn voice_speed_ratio_must_be_0_to_100() {
        let f = "asset_extra_meta.voice_model_meta.speed_ratio";
        edge(
            voice(json!({"speed_ratio": 100.0})),
            voice(json!({"speed_ratio": 100.001})),
            f,
        );
        edge(
            voice(json!({"speed_ratio": 0})),
            voice(json!({"speed_ratio": -0.1})),
            f,
        );
    }

    #[test]
    fn voice_volume_ratio_must_be_0_to_100() {
        let f = "asset_extra_meta.voice_model_meta.volume_ratio";
        edge(
            voice(json!({"volume_ratio": 100})),
            voice(json!({"volume_ratio": 100.5})),
            f,
        );
        edge(
            voice(json!({"volume_ratio": 0.0})),
            voice(json!({"volume_ratio": -1})),
            f,
        );
    }

    #[test]
    fn non_finite_ratios_are_refused() {
        let meta = VoiceModelAssetMeta {
            speed_ratio: Some(f64::NAN),
            ..Default::default()
        };
        assert_eq!(meta.validate().unwrap_err().field, "speed_ratio");
        let meta = VoiceModelAssetMeta {
            volume_ratio: Some(f64::INFINITY),
            ..Default::default()
        };
        assert_eq!(
            meta.validate().unwrap_err().rule,
            "must be a finite number between 0 and 100"
        );
    }

    #[test]
    fn conversion_rates_must_be_0_to_50() {
        let caps = |c: Value| voice(json!({"voice_capability": c}));
        let at = "asset_extra_meta.voice_model_meta.voice_capability";
        edge(
            caps(json!({"conversion_rate": 50})),
            caps(json!({"conversion_rate": 50.01})),
            &format!("{at}.conversion_rate"),
        );
        edge(
            caps(json!({"conversion_rate_en": 0})),
            caps(json!({"conversion_rate_en": -0.01})),
            &format!("{at}.conversion_rate_en"),
        );
    }

    #[test]
    fn ppt_page_count_must_be_0_to_256() {
        int_range(
            ppt,
            "page_count",
            0,
            256,
            "asset_extra_meta.ppt_meta.page_count",
        );
    }

    #[test]
    fn ppt_page_no_must_be_1_to_256() {
        let page = |n: i64| ppt(json!({"pages": [{"page_no": 1}, {"page_no": n}]}));
        let f = "asset_extra_meta.ppt_meta.pages[1].page_no";
        edge(page(1), page(0), f);
        edge(page(256), page(257), f);
    }

    #[test]
    fn ppt_page_file_id_must_be_1_to_64_characters() {
        let page = |id: String| ppt(json!({"pages": [{"file_id": id}]}));
        let f = "asset_extra_meta.ppt_meta.pages[0].file_id";
        edge(page(s(1)), page(s(0)), f);
        edge(page(s(64)), page(s(65)), f);
    }

    #[test]
    fn ppt_page_content_of_2049_characters_is_refused() {
        let page = |c: String| ppt(json!({"pages": [{"page_content": c}]}));
        edge(
            page(s(2048)),
            page(s(2049)),
            "asset_extra_meta.ppt_meta.pages[0].page_content",
        );
        assert_eq!(verdict(page(s(0))), Ok(()));
    }

    #[test]
    fn more_than_16_device_names_are_refused() {
        let names = |n: usize| avatar(json!({"device_names": vec!["d"; n]}));
        edge(
            names(16),
            names(17),
            "asset_extra_meta.human_model_2d_meta.device_names",
        );
    }

    #[test]
    fn device_name_must_be_1_to_64_characters() {
        let names = |name: String| avatar(json!({"device_names": ["a", "b", name]}));
        let f = "asset_extra_meta.human_model_2d_meta.device_names[2]";
        edge(names(s(64)), names(s(65)), f);
        edge(names(s(1)), names(s(0)), f);
    }

    #[test]
    fn action_duration_must_be_0_to_100() {
        let tag = |d: Value| {
            avatar(
                json!({"action_tag_map": [{"action_name_zh": "挥手", "action_name_en": "wave", "action_duration": d}]}),
            )
        };
        let f = "asset_extra_meta.human_model_2d_meta.action_tag_map[0].action_duration";
        edge(tag(json!(100)), tag(json!(100.1)), f);
        edge(tag(json!(0)), tag(json!(-0.5)), f);
    }

    #[test]
    fn action_file_name_must_be_1_to_256_characters() {
        let tag = |n: String| {
            avatar(
                json!({"action_tag_map": [{"action_name_zh": "z", "action_name_en": "e", "file_name": n}]}),
            )
        };
        let f = "asset_extra_meta.human_model_2d_meta.action_tag_map[0].file_name";
        edge(tag(s(256)), tag(s(257)), f);
        edge(tag(s(1)), tag(s(0)), f);
    }

    #[test]
    fn image_codec_and_frame_rate_must_be_at_most_32_characters() {
        let at = "asset_extra_meta.image_meta";
        edge(
            image(json!({"codec": s(32)})),
            image(json!({"codec": s(33)})),
            &format!("{at}.codec"),
        );
        edge(
            image(json!({"frame_rate": s(32)})),
            image(json!({"frame_rate": s(33)})),
            &format!("{at}.frame_rate"),
        );
    }

    #[test]
    fn image_width_and_height_must_be_0_to_8196() {
        int_range(image, "width", 0, 8196, "asset_extra_meta.image_meta.width");
        int_range(
            image,
            "height",
            0,
            8196,
            "asset_extra_meta.image_meta.height",
        );
    }

    #[test]
    fn image_size_must_not_be_negative() {
        edge(
            image(json!({"size": i64::MAX})),
            image(json!({"size": -1})),
            "asset_extra_meta.image_meta.size",
        );
        assert_eq!(verdict(image(json!({"size": 0}))), Ok(()));
    }

    #[test]
    fn image_duration_must_be_0_to_86400() {
        int_range(
            image,
            "duration",
            0,
            86400,
            "asset_extra_meta.image_meta.duration",
        );
    }

    #[test]
    fn video_codecs_and_frame_rate_must_be_at_most_32_characters() {
        for key in ["video_codec", "audio_codec", "frame_rate"] {
            edge(
                video(json!({key: s(32)})),
                video(json!({key: s(33)})),
                &format!("asset_extra_meta.video_meta.{key}"),
            );
        }
    }

    #[test]
    fn video_width_and_height_must_be_0_to_8196() {
        int_range(video, "width", 0, 8196, "asset_extra_meta.video_meta.width");
        int_range(
            video,
            "height",
            0,
            8196,
            "asset_extra_meta.video_meta.height",
        );
    }

    #[test]
    fn video_bit_rate_must_be_0_to_104857600() {
        int_range(
            video,
            "video_bit_rate",
            0,
            104_857_600,
            "asset_extra_meta.video_meta.video_bit_rate",
        );
    }

    #[test]
    fn video_duration_must_be_0_to_86400() {
        int_range(
            video,
            "duration",
            0,
            86400,
            "asset_extra_meta.video_meta.duration",
        );
    }

    #[test]
    fn video_audio_bit_rate_channels_and_sample_follow_their_ranges() {
        let at = "asset_extra_meta.video_meta";
        int_range(
            video,
            "audio_bit_rate",
            0,
            16384,
            &format!("{at}.audio_bit_rate"),
        );
        int_range(
            video,
            "audio_channels",
            0,
            100,
            &format!("{at}.audio_channels"),
        );
        int_range(video, "sample", 0, 100_000, &format!("{at}.sample"));
    }

    #[test]
    fn audio_meta_fields_follow_their_ranges() {
        let at = "asset_extra_meta.audio_meta";
        int_range(audio, "duration", 0, 86400, &format!("{at}.duration"));
        int_range(
            audio,
            "audio_bit_rate",
            0,
            16384,
            &format!("{at}.audio_bit_rate"),
        );
        int_range(
            audio,
            "audio_channels",
            0,
            100,
            &format!("{at}.audio_channels"),
        );
        int_range(audio, "sample", 0, 100_000, &format!("{at}.sample"));
        edge(
            audio(json!({"audio_codec": s(32)})),
            audio(json!({"audio_codec": s(33)})),
            &format!("{at}.audio_codec"),
        );
    }

    #[test]
    fn music_assets_check_audio_meta() {
        edge(
            with_meta("MUSIC", "audio_meta", json!({"sample": 100_000})),
            with_meta("MUSIC", "audio_meta", json!({"sample": 100_001})),
            "asset_extra_meta.audio_meta.sample",
        );
    }

    #[test]
    fn unmatched_sub_meta_is_ignored_even_when_invalid() {
        let body = json!({
            "asset_name": "a",
            "asset_type": "IMAGE",
            "asset_extra_meta": {
                "image_meta": {"width": 10},
                "video_meta": {"width": 999_999},
                "voice_model_meta": {"order": -5},
                "human_model_2d_meta": {"device_names": [""]}
            }
        });
        assert_eq!(verdict(body), Ok(()));
        let common = with_meta("COMMON_FILE", "ppt_meta", json!({"page_count": 9999}));
        assert_eq!(verdict(common), Ok(()));
    }

    #[test]
    fn extra_meta_validate_for_checks_only_the_matching_member() {
        let meta: AssetExtraMeta = serde_json::from_value(json!({
            "image_meta": {"width": -1},
            "ppt_meta": {"page_count": 1}
        }))
        .unwrap();
        assert_eq!(meta.validate_for(AssetType::Ppt), Ok(()));
        assert_eq!(
            meta.validate_for(AssetType::Image).unwrap_err().field,
            "image_meta.width"
        );
        assert_eq!(meta.validate().unwrap_err().field, "image_meta.width");
    }

    #[test]
    fn update_body_checks_the_same_rules_with_every_field_optional() {
        let update = |v: Value| -> Result<(), ValidationError> {
            parse_json::<UpdateAssetBody>(v.to_string().as_bytes())
                .unwrap()
                .validate()
        };
        assert_eq!(update(json!({})), Ok(()));
        assert_eq!(update(json!({"asset_name": s(256)})), Ok(()));
        assert_eq!(
            update(json!({"asset_name": s(257)})).unwrap_err().field,
            "asset_name"
        );
        assert_eq!(
            update(json!({"tags": vec![""; 51]})).unwrap_err().field,
            "tags"
        );
        assert_eq!(
            update(json!({"asset_order": 32768})).unwrap_err().field,
            "asset_order"
        );
        assert_eq!(
            update(json!({"asset_description": s(4097)}))
                .unwrap_err()
                .field,
            "asset_description"
        );
    }

    #[test]
    fn update_without_a_type_uses_the_stored_type_to_pick_the_meta() {
        let body: UpdateAssetBody = serde_json::from_value(json!({
            "asset_extra_meta": {"video_meta": {"width": 9000}, "image_meta": {"width": 10}}
        }))
        .unwrap();
        assert_eq!(body.validate_for(AssetType::Image), Ok(()));
        assert_eq!(
            body.validate_for(AssetType::Video).unwrap_err().field,
            "asset_extra_meta.video_meta.width"
        );
        // Without any type to go on, every member present is checked.
        assert!(body.validate().is_err());
    }

    #[test]
    fn update_with_a_type_ignores_unmatched_meta() {
        let body: UpdateAssetBody = serde_json::from_value(json!({
            "asset_type": "IMAGE",
            "asset_extra_meta": {"video_meta": {"width": 9000}}
        }))
        .unwrap();
        assert_eq!(body.validate(), Ok(()));
        assert_eq!(body.validate_for(AssetType::Video), Ok(()));
    }

    #[test]
    fn nested_meta_validated_alone_names_fields_relative_to_itself() {
        let page = PptPageInfo {
            page_no: Some(0),
            ..Default::default()
        };
        assert_eq!(page.validate().unwrap_err().field, "page_no");
        assert_eq!(
            page.validate_at("x.pages[4]").unwrap_err().field,
            "x.pages[4].page_no"
        );
    }
}
