//! `asset_extra_meta` and the small objects shared by asset requests and replies.
//!
//! Field names and types follow the seed tables 4–21 exactly: Integer = `i32`, Long = `i64`,
//! Float = `f64`. Everything optional is an `Option` that is left out of the JSON when `None`;
//! unknown fields are ignored on input. Rules on values live in `validate.rs`.

use serde::{Deserialize, Serialize};

use super::enums::{
    AssetType, AutoOperation, ComponentType, ExternalVoiceProvider, HumanModelVersion,
    ModelResolution, Orientation, PptAnalysisStatus, SharedType, SystemPropertyAction,
    SystemPropertyKey, TranscodingStatus, VoiceLanguage, VoiceModelType, VoiceSex,
};

/// Copies every field that is `Some` in `patch` over the same field of `target`.
macro_rules! merge_fields {
    ($target:ident, $patch:ident; $($field:ident),+ $(,)?) => {
        $(
            if $patch.$field.is_some() {
                $target.$field = $patch.$field;
            }
        )+
    };
}

/// Per-type metadata of an asset (seed table 5). Only the member matching `asset_type` is
/// used; see [`AssetExtraMeta::for_type`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssetExtraMeta {
    /// Timbre model metadata (`VOICE_MODEL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_model_meta: Option<VoiceModelAssetMeta>,
    /// PowerPoint metadata (`PPT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppt_meta: Option<PptAssetMeta>,
    /// Material metadata (`MATERIAL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material_meta: Option<MaterialAssetMeta>,
    /// Virtual avatar model metadata (`HUMAN_MODEL_2D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human_model_2d_meta: Option<HumanModel2DAssetMeta>,
    /// Image metadata (`IMAGE`), normally extracted by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_meta: Option<ImageAssetMeta>,
    /// Video metadata (`VIDEO`), normally extracted by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_meta: Option<VideoAssetMeta>,
    /// Audio metadata (`AUDIO` and `MUSIC`), normally extracted by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_meta: Option<AudioAssetMeta>,
}

impl AssetExtraMeta {
    /// Keeps only the member that matches `t` and drops the rest, as the API does with
    /// "other unmatched structures". Types without a member of their own get an empty meta.
    pub fn for_type(self, t: AssetType) -> AssetExtraMeta {
        let mut kept = AssetExtraMeta::default();
        match t {
            AssetType::HumanModel2D => kept.human_model_2d_meta = self.human_model_2d_meta,
            AssetType::Material => kept.material_meta = self.material_meta,
            AssetType::VoiceModel => kept.voice_model_meta = self.voice_model_meta,
            AssetType::Video => kept.video_meta = self.video_meta,
            AssetType::Image => kept.image_meta = self.image_meta,
            AssetType::Ppt => kept.ppt_meta = self.ppt_meta,
            // The seed maps only AUDIO; MUSIC files are audio too, so they share audio_meta.
            AssetType::Audio | AssetType::Music => kept.audio_meta = self.audio_meta,
            AssetType::CommonFile | AssetType::BusinessCardTemplet => {}
        }
        kept
    }

    /// Whether no member is present.
    pub fn is_empty(&self) -> bool {
        *self == AssetExtraMeta::default()
    }

    /// Fills the seed's documented defaults into the members that are present; absent members
    /// stay absent.
    pub fn with_defaults(self) -> Self {
        AssetExtraMeta {
            voice_model_meta: self
                .voice_model_meta
                .map(VoiceModelAssetMeta::with_defaults),
            ppt_meta: self.ppt_meta.map(PptAssetMeta::with_defaults),
            human_model_2d_meta: self
                .human_model_2d_meta
                .map(HumanModel2DAssetMeta::with_defaults),
            ..self
        }
    }

    /// Applies a partial update: each member present in `patch` is merged field by field into
    /// the same member of `self` (present fields replace, absent fields stay), or inserted if
    /// `self` lacks it. Nested objects and arrays inside a member are replaced whole.
    pub fn merge(&mut self, patch: AssetExtraMeta) {
        fn merge_member<T>(target: &mut Option<T>, patch: Option<T>, merge: fn(&mut T, T)) {
            match (target.as_mut(), patch) {
                (Some(current), Some(patch)) => merge(current, patch),
                (None, Some(patch)) => *target = Some(patch),
                (_, None) => {}
            }
        }
        merge_member(
            &mut self.voice_model_meta,
            patch.voice_model_meta,
            VoiceModelAssetMeta::merge,
        );
        merge_member(&mut self.ppt_meta, patch.ppt_meta, PptAssetMeta::merge);
        merge_member(
            &mut self.material_meta,
            patch.material_meta,
            MaterialAssetMeta::merge,
        );
        merge_member(
            &mut self.human_model_2d_meta,
            patch.human_model_2d_meta,
            HumanModel2DAssetMeta::merge,
        );
        merge_member(
            &mut self.image_meta,
            patch.image_meta,
            ImageAssetMeta::merge,
        );
        merge_member(
            &mut self.video_meta,
            patch.video_meta,
            VideoAssetMeta::merge,
        );
        merge_member(
            &mut self.audio_meta,
            patch.audio_meta,
            AudioAssetMeta::merge,
        );
    }
}

/// Timbre model metadata (seed table 6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoiceModelAssetMeta {
    /// Display order, 0~32767; default 999.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    /// General or cloned voice; default `CLONE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<VoiceModelType>,
    /// Voice gender; default `UNKNOW`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<VoiceSex>,
    /// Voice language; default `UNKNOW`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<VoiceLanguage>,
    /// Voice languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub languages: Option<Vec<VoiceLanguage>>,
    /// Speaking-speed scale, 0~100; default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_ratio: Option<f64>,
    /// Volume scale, 0~100; default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_ratio: Option<f64>,
    /// Supports real-time synthesis (needed for livestream and chat); default `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_realtime_voice: Option<bool>,
    /// Style reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Capability set; queryable, not configurable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_capability: Option<VoiceCapability>,
    /// Third-party TTS timbre metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_voice_meta: Option<ExternalVoiceAssetMeta>,
    /// Supports VC; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_vc_process: Option<bool>,
    /// Supports automatic Thai text splitting; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_thai_auto_split: Option<bool>,
    /// Flexus-edition voice; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_flexus: Option<bool>,
    /// Enhanced rhythm; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enhance_rhythm: Option<bool>,
    /// Age group (young, middle-aged, elderly); free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<String>,
}

impl VoiceModelAssetMeta {
    /// Fills the seed defaults of the absent fields (and of `voice_capability` if present).
    pub fn with_defaults(mut self) -> Self {
        self.order.get_or_insert(999);
        self.model_type.get_or_insert(VoiceModelType::Clone);
        self.sex.get_or_insert(VoiceSex::Unknow);
        self.language.get_or_insert(VoiceLanguage::Unknow);
        self.speed_ratio.get_or_insert(1.0);
        self.volume_ratio.get_or_insert(1.0);
        self.is_realtime_voice.get_or_insert(true);
        self.is_support_vc_process.get_or_insert(false);
        self.is_support_thai_auto_split.get_or_insert(false);
        self.is_flexus.get_or_insert(false);
        self.is_enhance_rhythm.get_or_insert(false);
        self.voice_capability = self.voice_capability.map(VoiceCapability::with_defaults);
        self
    }

    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch;
            order, model_type, sex, language, languages, speed_ratio, volume_ratio,
            is_realtime_voice, style, voice_capability, external_voice_meta,
            is_support_vc_process, is_support_thai_auto_split, is_flexus, is_enhance_rhythm, age,
        );
    }
}

/// Capability set of a timbre (seed table 7). Every flag defaults to `false`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoiceCapability {
    /// English phonetic symbols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_phoneme_en: Option<bool>,
    /// Chinese polyphones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_phoneme: Option<bool>,
    /// Pauses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_break_time: Option<bool>,
    /// Rhythm (break strength).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_break_strength: Option<bool>,
    /// Global speaking speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_speed: Option<bool>,
    /// Local speaking speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_prosody: Option<bool>,
    /// SSML `say-as` tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_ssml_say_as: Option<bool>,
    /// SSML `sub` tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_ssml_sub: Option<bool>,
    /// Continuous reading (liaison).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_word: Option<bool>,
    /// Caching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_voice_cache: Option<bool>,
    /// Synthesis rate, 0~50; default 0.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_rate: Option<f64>,
    /// English synthesis rate, 0~50; default 0.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_rate_en: Option<f64>,
    /// SRT subtitle generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_support_srt: Option<bool>,
}

impl VoiceCapability {
    /// Fills the seed defaults (`false` flags, `0.0` rates) of the absent fields.
    pub fn with_defaults(mut self) -> Self {
        for flag in [
            &mut self.is_support_phoneme_en,
            &mut self.is_support_phoneme,
            &mut self.is_support_break_time,
            &mut self.is_support_break_strength,
            &mut self.is_support_speed,
            &mut self.is_support_prosody,
            &mut self.is_support_ssml_say_as,
            &mut self.is_support_ssml_sub,
            &mut self.is_support_word,
            &mut self.is_support_voice_cache,
            &mut self.is_support_srt,
        ] {
            flag.get_or_insert(false);
        }
        self.conversion_rate.get_or_insert(0.0);
        self.conversion_rate_en.get_or_insert(0.0);
        self
    }
}

/// Third-party TTS timbre metadata (seed table 8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExternalVoiceAssetMeta {
    /// TTS vendor; required.
    pub provider: ExternalVoiceProvider,
}

/// PowerPoint asset metadata (seed table 9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PptAssetMeta {
    /// Parse the deck automatically; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_analysis: Option<bool>,
    /// Parsing progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppt_analysis_status: Option<PptAnalysisStatus>,
    /// Parsing error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
    /// Number of pages, 0~256; default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_count: Option<i32>,
    /// Page images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<Vec<PptPageInfo>>,
}

impl PptAssetMeta {
    /// Fills the seed defaults of the absent fields.
    pub fn with_defaults(mut self) -> Self {
        self.auto_analysis.get_or_insert(false);
        self.page_count.get_or_insert(0);
        self
    }

    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch; auto_analysis, ppt_analysis_status, error_info, page_count, pages);
    }
}

/// One page of a deck (seed table 10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PptPageInfo {
    /// Page number, 1~256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_no: Option<i32>,
    /// Id of the page's image file (a `PAGE` file), 1–64 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// Page content, 0–2048 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_content: Option<String>,
}

/// Material metadata (seed table 11).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MaterialAssetMeta {
    /// Replaceable components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<MaterialComponentInfo>>,
}

impl MaterialAssetMeta {
    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch; components);
    }
}

/// A replaceable material component (seed table 12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MaterialComponentInfo {
    /// Component name; required.
    pub component_name: String,
    /// Component type; required.
    pub component_type: ComponentType,
    /// Component description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_desc: Option<String>,
}

/// Virtual avatar model metadata (seed table 13).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HumanModel2DAssetMeta {
    /// Actions are editable; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_action_editable: Option<bool>,
    /// Produced by a livestream-based training task; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_live_copy: Option<bool>,
    /// Real-scene avatar whose background is kept; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_real_background: Option<bool>,
    /// Usable for livestreaming; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_live: Option<bool>,
    /// Model version; default `V2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<HumanModelVersion>,
    /// Model resolution; default `1080P`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_resolution: Option<ModelResolution>,
    /// Devices compiled for: at most 16, each 1–64 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_names: Option<Vec<String>>,
    /// Has an atomic action library (allows choreography); default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_with_action_library: Option<bool>,
    /// Action tag mapping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_tag_map: Option<Vec<ActionTagInfo>>,
    /// Flexus-edition avatar; default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_flexus: Option<bool>,
    /// Id of the associated voice asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_asset_id: Option<String>,
}

impl HumanModel2DAssetMeta {
    /// Fills the seed defaults of the absent fields. `device_names` gets none: its documented
    /// default "false" is a documentation artefact.
    pub fn with_defaults(mut self) -> Self {
        self.is_action_editable.get_or_insert(false);
        self.is_live_copy.get_or_insert(false);
        self.is_real_background.get_or_insert(false);
        self.support_live.get_or_insert(false);
        self.model_version.get_or_insert(HumanModelVersion::V2);
        self.model_resolution
            .get_or_insert(ModelResolution::Hd1080P);
        self.is_with_action_library.get_or_insert(false);
        self.is_flexus.get_or_insert(false);
        self
    }

    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch;
            is_action_editable, is_live_copy, is_real_background, support_live, model_version,
            model_resolution, device_names, is_with_action_library, action_tag_map, is_flexus,
            voice_asset_id,
        );
    }
}

/// Atomic action of an avatar (seed table 14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionTagInfo {
    /// Chinese action name; required.
    pub action_name_zh: String,
    /// English action name; required.
    pub action_name_en: String,
    /// Action duration, 0~100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_duration: Option<f64>,
    /// Action category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// Sample video file name, 1–256 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Action tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Image metadata, extracted by the server (seed table 15).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageAssetMeta {
    /// Encoding format, 0–32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Width, 0~8196.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    /// Height, 0~8196.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// Size, 0~9223372036854775807.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Orientation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Orientation>,
    /// Frame rate (animated images), 0–32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<String>,
    /// Duration in seconds, 0~86400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i32>,
    /// Extraction error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
}

impl ImageAssetMeta {
    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch; codec, width, height, size, mode, frame_rate, duration, error_info);
    }
}

/// Video metadata, extracted by the server (seed table 16).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VideoAssetMeta {
    /// Video encoding format, 0–32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<String>,
    /// Width, 0~8196.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    /// Height, 0~8196.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// Frame rate, 0–32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<String>,
    /// Average video bitrate in kbit/s, 0~104857600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_bit_rate: Option<i32>,
    /// Duration in seconds, 0~86400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i32>,
    /// Audio encoding format, 0–32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    /// Average audio bitrate in kbit/s, 0~16384.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_bit_rate: Option<i32>,
    /// Audio channels, 0~100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_channels: Option<i32>,
    /// Sampling rate in Hz, 0~100000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<i32>,
    /// Orientation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Orientation>,
    /// Transcoding progress, filled by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_transcoding_status: Option<TranscodingStatus>,
    /// Extraction error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
}

impl VideoAssetMeta {
    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch;
            video_codec, width, height, frame_rate, video_bit_rate, duration, audio_codec,
            audio_bit_rate, audio_channels, sample, mode, video_transcoding_status, error_info,
        );
    }
}

/// Audio metadata, extracted by the server (seed table 17).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AudioAssetMeta {
    /// Duration in seconds, 0~86400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i32>,
    /// Audio encoding format, 0–32 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    /// Average audio bitrate in kbit/s, 0~16384.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_bit_rate: Option<i32>,
    /// Audio channels, 0~100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_channels: Option<i32>,
    /// Sampling rate in Hz, 0~100000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<i32>,
    /// Extraction error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
}

impl AudioAssetMeta {
    /// Replaces every field that `patch` carries; keeps the others.
    pub fn merge(&mut self, patch: Self) {
        merge_fields!(self, patch; duration, audio_codec, audio_bit_rate, audio_channels, sample, error_info);
    }
}

/// Error code and text embedded in metadata and batch results (seed table 18, `ErrorResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorInfo {
    /// Error code, e.g. `MSS.00000003`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
}

/// A system property of an asset (seed table 19); internal, administrators only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SystemProperty {
    /// Add or delete (on update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<SystemPropertyAction>,
    /// Property key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<SystemPropertyKey>,
    /// Property value, 1–1024 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Sharing settings of an asset (seed table 20).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssetSharedConfig {
    /// Who may access the asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_type: Option<SharedType>,
    /// When sharing ends, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    /// Projects allowed to access the asset, each 1–64 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_project_ids: Option<Vec<String>>,
}

/// Content-review settings (seed table 4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewConfig {
    /// Skip content review; honoured only for whitelisted users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_need_review: Option<bool>,
}

/// A scheduled automatic action (seed table 21).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutoOperationConfig {
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<AutoOperation>,
    /// When to do it, RFC 3339 (e.g. `2025-01-10T00:00:00Z`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn every_member() -> AssetExtraMeta {
        serde_json::from_value(json!({
            "voice_model_meta": {"order": 1},
            "ppt_meta": {"page_count": 2},
            "material_meta": {"components": []},
            "human_model_2d_meta": {"support_live": true},
            "image_meta": {"width": 3},
            "video_meta": {"width": 4},
            "audio_meta": {"duration": 5}
        }))
        .unwrap()
    }

    #[test]
    fn for_type_keeps_only_the_member_matching_the_asset_type() {
        let all = every_member();
        let cases = [
            (AssetType::HumanModel2D, "human_model_2d_meta"),
            (AssetType::Material, "material_meta"),
            (AssetType::VoiceModel, "voice_model_meta"),
            (AssetType::Video, "video_meta"),
            (AssetType::Image, "image_meta"),
            (AssetType::Ppt, "ppt_meta"),
            (AssetType::Audio, "audio_meta"),
            (AssetType::Music, "audio_meta"),
        ];
        for (t, member) in cases {
            let kept = serde_json::to_value(all.clone().for_type(t)).unwrap();
            let keys: Vec<_> = kept.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys, [member], "{t}");
        }
    }

    #[test]
    fn for_type_empties_the_meta_of_types_without_a_member() {
        for t in [AssetType::CommonFile, AssetType::BusinessCardTemplet] {
            let kept = every_member().for_type(t);
            assert!(kept.is_empty());
            assert_eq!(serde_json::to_string(&kept).unwrap(), "{}");
        }
    }

    #[test]
    fn absent_fields_are_left_out_of_the_json() {
        let meta = VoiceModelAssetMeta {
            order: Some(3),
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(meta).unwrap(), json!({"order": 3}));
    }

    #[test]
    fn unknown_fields_in_metas_are_ignored() {
        let meta: AssetExtraMeta = serde_json::from_value(json!({
            "future_meta": {"x": 1},
            "video_meta": {"width": 10, "hdr": true}
        }))
        .unwrap();
        assert_eq!(meta.video_meta.unwrap().width, Some(10));
    }

    #[test]
    fn voice_defaults_fill_only_absent_fields() {
        let meta = VoiceModelAssetMeta {
            sex: Some(VoiceSex::Female),
            voice_capability: Some(VoiceCapability::default()),
            ..Default::default()
        }
        .with_defaults();
        assert_eq!(meta.order, Some(999));
        assert_eq!(meta.model_type, Some(VoiceModelType::Clone));
        assert_eq!(meta.sex, Some(VoiceSex::Female));
        assert_eq!(meta.language, Some(VoiceLanguage::Unknow));
        assert_eq!(meta.languages, None);
        assert_eq!(meta.speed_ratio, Some(1.0));
        assert_eq!(meta.volume_ratio, Some(1.0));
        assert_eq!(meta.is_realtime_voice, Some(true));
        assert_eq!(meta.is_support_vc_process, Some(false));
        assert_eq!(meta.is_support_thai_auto_split, Some(false));
        assert_eq!(meta.is_flexus, Some(false));
        assert_eq!(meta.is_enhance_rhythm, Some(false));
        assert_eq!(meta.style, None);
        assert_eq!(meta.age, None);
        assert_eq!(meta.external_voice_meta, None);
        let caps = meta.voice_capability.unwrap();
        assert_eq!(caps.is_support_srt, Some(false));
        assert_eq!(caps.conversion_rate, Some(0.0));
    }

    #[test]
    fn avatar_and_ppt_defaults_follow_the_seed() {
        let meta = AssetExtraMeta {
            human_model_2d_meta: Some(HumanModel2DAssetMeta::default()),
            ppt_meta: Some(PptAssetMeta::default()),
            ..Default::default()
        }
        .with_defaults();
        assert_eq!(
            serde_json::to_value(&meta).unwrap(),
            json!({
                "ppt_meta": {"auto_analysis": false, "page_count": 0},
                "human_model_2d_meta": {
                    "is_action_editable": false,
                    "is_live_copy": false,
                    "is_real_background": false,
                    "support_live": false,
                    "model_version": "V2",
                    "model_resolution": "1080P",
                    "is_with_action_library": false,
                    "is_flexus": false
                }
            })
        );
    }

    #[test]
    fn defaults_do_not_create_absent_members_or_touch_extracted_metas() {
        let meta = AssetExtraMeta {
            video_meta: Some(VideoAssetMeta::default()),
            ..Default::default()
        }
        .with_defaults();
        assert_eq!(
            serde_json::to_value(&meta).unwrap(),
            json!({"video_meta": {}})
        );
    }

    #[test]
    fn merge_replaces_present_fields_and_keeps_absent_ones() {
        let mut stored: AssetExtraMeta = serde_json::from_value(json!({
            "voice_model_meta": {"order": 1, "sex": "MALE", "languages": ["CN", "EN"]},
            "image_meta": {"width": 100}
        }))
        .unwrap();
        let patch: AssetExtraMeta = serde_json::from_value(json!({
            "voice_model_meta": {"sex": "FEMALE", "languages": ["fr"]},
            "ppt_meta": {"page_count": 3}
        }))
        .unwrap();
        stored.merge(patch);
        assert_eq!(
            serde_json::to_value(&stored).unwrap(),
            json!({
                "voice_model_meta": {"order": 1, "sex": "FEMALE", "languages": ["fr"]},
                "ppt_meta": {"page_count": 3},
                "image_meta": {"width": 100}
            })
        );
    }

    #[test]
    fn merge_with_an_empty_patch_changes_nothing() {
        let mut stored = every_member();
        stored.merge(AssetExtraMeta::default());
        assert_eq!(stored, every_member());
    }

    #[test]
    fn merge_covers_every_member() {
        let mut stored = AssetExtraMeta::default();
        stored.merge(every_member());
        assert_eq!(stored, every_member());
        let mut patch = every_member();
        patch.video_meta = Some(VideoAssetMeta {
            height: Some(9),
            ..Default::default()
        });
        stored.merge(patch);
        let video = stored.video_meta.unwrap();
        assert_eq!((video.width, video.height), (Some(4), Some(9)));
    }
}
