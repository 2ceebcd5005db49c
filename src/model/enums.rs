//! String enumerations of the MetaStudio asset API, spelled exactly as on the wire.
//!
//! Every enum serializes to and parses from its wire spelling only (case-sensitive: `fr`,
//! `Kr`, `Horizontal` and `1080P` are written as the SDK writes them). Each one has
//! `as_str`, `Display`, `FromStr` (error: [`UnknownVariant`]) and `ALL`, the canonical
//! variants in documentation order. A JSON value outside the list is refused while parsing,
//! with the rule "must be one of …".

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A string that is not a spelling of the enum it was parsed as.
///
/// Its `Display` is the rule text ("must be one of A, B, C"), ready to be paired with a field
/// name in a `ValidationError`. The rejected value is deliberately not kept, so the message
/// never echoes (possibly huge) client input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {}", .expected.join(", "))]
pub struct UnknownVariant {
    /// Rust name of the enum, e.g. `"AssetType"`.
    pub enum_name: &'static str,
    /// Canonical wire spellings that would have been accepted.
    pub expected: &'static [&'static str],
}

/// Declares a wire string enum with `as_str`, `ALL`, `Display`, `FromStr` and serde impls.
///
/// `Variant = "WIRE" | "ALIAS"` accepts the alias on input and always emits `"WIRE"`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in the order the API documentation lists them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            const WIRE_NAMES: &'static [&'static str] = &[$($wire),+];

            /// The canonical wire spelling.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire $(| $alias)* => Ok(Self::$variant),)+
                    _ => Err(UnknownVariant {
                        enum_name: stringify!($name),
                        expected: Self::WIRE_NAMES,
                    }),
                }
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(Self::WIRE_NAMES.iter().copied()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct WireVisitor;

                impl Visitor<'_> for WireVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }

                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                }

                deserializer.deserialize_str(WireVisitor)
            }
        }
    };
}

wire_enum! {
    /// Kind of a digital asset (`asset_type`).
    pub enum AssetType {
        /// Timbre (voice) model; administrators only.
        VoiceModel = "VOICE_MODEL",
        /// Video file.
        Video = "VIDEO",
        /// Image file.
        Image = "IMAGE",
        /// PowerPoint or PDF deck.
        Ppt = "PPT",
        /// Background music.
        Music = "MUSIC",
        /// Audio file.
        Audio = "AUDIO",
        /// Any other file.
        CommonFile = "COMMON_FILE",
        /// 2D virtual avatar model; administrators only.
        HumanModel2D = "HUMAN_MODEL_2D",
        /// Avatar business-card template. The SDK spells it `TEMPLET`; the English docs'
        /// `TEMPLATE` is accepted on input.
        BusinessCardTemplet = "BUSINESS_CARD_TEMPLET" | "BUSINESS_CARD_TEMPLATE",
        /// Stylized material.
        Material = "MATERIAL",
    }
}

impl AssetType {
    /// Whether only administrators may create assets of this type.
    pub fn admin_only(&self) -> bool {
        matches!(self, Self::VoiceModel | Self::HumanModel2D)
    }
}

wire_enum! {
    /// Lifecycle state of an asset (`asset_state`); `ACTIVED`/`UNACTIVED` are the API's spelling.
    pub enum AssetState {
        /// Created, main file not uploaded yet.
        Creating = "CREATING",
        /// Main-file upload or review failed.
        Failed = "FAILED",
        /// Uploaded but deactivated: not usable by other services.
        Unactived = "UNACTIVED",
        /// Uploaded and activated: usable by other services.
        Actived = "ACTIVED",
        /// In the recycle bin; restorable.
        Deleting = "DELETING",
        /// Permanently deleted.
        Deleted = "DELETED",
        /// Frozen.
        Block = "BLOCK",
        /// Scheduled to be taken offline.
        WaitingDelete = "WAITING_DELETE",
    }
}

impl AssetState {
    /// Whether a tenant may request this state through `update_digital_asset`
    /// (`ACTIVED`, `UNACTIVED`, `WAITING_DELETE`); all other states are system-managed.
    ///
    /// Whether the transition is allowed from the asset's current state is the service's call.
    pub fn settable_by_update(&self) -> bool {
        matches!(self, Self::Actived | Self::Unactived | Self::WaitingDelete)
    }
}

wire_enum! {
    /// Service an asset may be used by (`supported_service`).
    pub enum SupportedService {
        /// Avatar video production.
        Video2D = "VIDEO_2D",
        /// Avatar livestreaming.
        Live2D = "LIVE_2D",
        /// Avatar intelligent interaction.
        Chat2D = "CHAT_2D",
    }
}

wire_enum! {
    /// Who may access a shared asset (`shared_config.shared_type`).
    pub enum SharedType {
        /// Only the owning tenant.
        Private = "PRIVATE",
        /// All tenants (currently system assets only).
        Public = "PUBLIC",
        /// Tenants chosen by the owner.
        Shared = "SHARED",
    }
}

wire_enum! {
    /// Scheduled automatic action on an asset (`auto_operation_config.operation`).
    pub enum AutoOperation {
        /// Freeze the asset.
        Block = "BLOCK",
        /// Delete the asset.
        Delete = "DELETE",
    }
}

wire_enum! {
    /// What to do with a system property on update (`system_properties[].action`).
    pub enum SystemPropertyAction {
        /// Add or set the property.
        Add = "ADD",
        /// Remove the property.
        Delete = "DELETE",
    }
}

wire_enum! {
    /// Key of a system property (`system_properties[].key`).
    pub enum SystemPropertyKey {
        /// 2D background image for video production (value `Yes`).
        BackgroundImg = "BACKGROUND_IMG",
        /// Generated by the platform.
        CreatedByPlatform = "CREATED_BY_PLATFORM",
        /// 2D background scene (value `Horizontal` or `Vertical`).
        BackgroundScene = "BACKGROUND_SCENE",
        /// Approved by Meituan (value `YES`).
        MeituanMaterialApproved = "MEITUAN_MATERIAL_APPROVED",
        /// Controlled asset (image and voice assets).
        IsControlled = "IS_CONTROLLED",
        /// Authorized for livestreaming (image and voice assets).
        LiveIsAuthorized = "LIVE_IS_AUTHORIZED",
        /// Authorized for video production (image and voice assets).
        VideoIsAuthorized = "VIDEO_IS_AUTHORIZED",
        /// Authorized for intelligent interaction (image and voice assets).
        ChatIsAuthorized = "CHAT_IS_AUTHORIZED",
        /// Image overlay (value `Yes`).
        MaterialImg = "MATERIAL_IMG",
        /// Video overlay (value `Yes`).
        MaterialVideo = "MATERIAL_VIDEO",
        /// Virtual avatar video.
        DigitalHuman2DVideo = "DIGITAL_HUMAN_2D_VIDEO",
        /// Business-card video.
        BusinessCardVideo = "BUSINESS_CARD_VIDEO",
        /// Business-card video, legacy misspelled key kept by the API.
        BussinessCardVideo = "BUSSINESS_CARD_VIDEO",
        /// Photo-based avatar video.
        PhotoVideo = "PHOTO_VIDEO",
        /// Render engine, e.g. `MetaEngine` (seen in the list filter).
        RenderEngine = "RENDER_ENGINE",
    }
}

wire_enum! {
    /// Role of a file within its asset (`asset_file_category`).
    pub enum FileCategory {
        /// The main file; exactly one per asset.
        Main = "MAIN",
        /// Cover image.
        Cover = "COVER",
        /// PPT page image.
        Page = "PAGE",
        /// Sample audio or sample action.
        Sample = "SAMPLE",
        /// Any other file.
        Other = "OTHER",
        /// Temporary area for uploading a replacement file.
        Temporary = "TEMPORARY",
        /// Packaged asset.
        Package = "PACKAGE",
    }
}

wire_enum! {
    /// Upload state of a file (`state`).
    pub enum FileState {
        /// Upload URL issued, bytes not confirmed.
        Creating = "CREATING",
        /// Uploaded, not yet reviewed.
        Uploaded = "UPLOADED",
        /// Under manual review.
        Review = "REVIEW",
        /// Uploaded and passed review.
        Created = "CREATED",
        /// Upload failed.
        Failed = "FAILED",
        /// Upload cancelled.
        Cancelled = "CANCELLED",
        /// Being deleted.
        Deleting = "DELETING",
        /// Deleted.
        Deleted = "DELETED",
        /// Frozen.
        Block = "BLOCK",
    }
}

wire_enum! {
    /// Video transcoding progress (`video_transcoding_status`).
    pub enum TranscodingStatus {
        /// Waiting for transcoding.
        Waiting = "WAITING",
        /// Transcoding.
        Transcoding = "TRANSCODING",
        /// Transcoding failed.
        Failed = "FAILED",
        /// Transcoding succeeded.
        Succeeded = "SUCCEEDED",
    }
}

wire_enum! {
    /// PowerPoint parsing progress (`ppt_meta.ppt_analysis_status`).
    pub enum PptAnalysisStatus {
        /// Initial.
        Initialize = "INITIALIZE",
        /// Waiting for parsing.
        Waiting = "WAITING",
        /// Parsing.
        Converting = "CONVERTING",
        /// Parsing failed.
        Failed = "FAILED",
        /// Parsing succeeded.
        Succeeded = "SUCCEEDED",
        /// Parsing cancelled (the API spells it with one L).
        Canceled = "CANCELED",
    }
}

wire_enum! {
    /// Image or video orientation (`mode`), mixed case on the wire.
    pub enum Orientation {
        /// Landscape.
        Horizontal = "Horizontal",
        /// Portrait.
        Vertical = "Vertical",
    }
}

wire_enum! {
    /// Kind of voice model (`voice_model_meta.model_type`).
    pub enum VoiceModelType {
        /// General emotional model.
        Common = "COMMON",
        /// Voice-cloning model.
        Clone = "CLONE",
    }
}

wire_enum! {
    /// Voice gender (`voice_model_meta.sex`); `UNKNOW` is the API's spelling.
    pub enum VoiceSex {
        /// Unknown gender.
        Unknow = "UNKNOW",
        /// Male voice.
        Male = "MALE",
        /// Female voice.
        Female = "FEMALE",
    }
}

wire_enum! {
    /// Voice language (`voice_model_meta.language` / `languages`), case-exact as in the SDK.
    pub enum VoiceLanguage {
        /// Unknown.
        Unknow = "UNKNOW",
        /// Chinese.
        Cn = "CN",
        /// English.
        En = "EN",
        /// German.
        Ger = "GER",
        /// French.
        Fr = "fr",
        /// Korean.
        Kr = "Kr",
        /// Portuguese.
        Por = "por",
        /// Japanese.
        Jpn = "JPN",
        /// Italian.
        Ita = "Ita",
        /// Spanish.
        Esp = "ESP",
        /// Northeast China dialect.
        Dbh = "DBH",
        /// Hong Kong and Taiwan dialect.
        Gt = "GT",
        /// Guangxi dialect.
        Gxh = "GXH",
        /// Hubei dialect.
        Hbh = "HBH",
        /// Shaanxi dialect.
        Sxh = "SXH",
        /// Sichuan dialect.
        Sch = "SCH",
        /// Cantonese.
        Yy = "YY",
        /// Russian.
        Russian = "Russian",
        /// Tagalog.
        Filipino = "Filipino",
        /// Dutch.
        Dutch = "Dutch",
        /// Indonesian.
        Indonesian = "Indonesian",
        /// Vietnamese.
        Vietnamese = "Vietnamese",
        /// Arabic.
        Arabic = "Arabic",
        /// Turkish.
        Turkish = "Turkish",
        /// Malay.
        Malay = "Malay",
        /// Thai.
        Thai = "Thai",
        /// Finnish.
        Finnish = "Finnish",
    }
}

wire_enum! {
    /// Third-party TTS vendor (`external_voice_meta.provider`).
    pub enum ExternalVoiceProvider {
        /// Himalaya TTS.
        Ximalaya = "XIMALAYA",
        /// Huawei Cloud EI TTS.
        HuaweiEi = "HUAWEI_EI",
        /// DupDub TTS.
        Mobvoi = "MOBVOI",
        /// AudioX TTS.
        Audiox = "AUDIOX",
        /// SinoVoice TTS.
        Sinovoice = "SINOVOICE",
        /// Databaker TTS.
        Databaker = "DATABAKER",
        /// AISpeech TTS.
        Aispeech = "AISPEECH",
    }
}

wire_enum! {
    /// Avatar model version (`human_model_2d_meta.model_version`).
    pub enum HumanModelVersion {
        /// V2 model.
        V2 = "V2",
        /// V3 model.
        V3 = "V3",
        /// V3.2 model.
        V3Dot2 = "V3_2",
        /// V3.3 model.
        V3Dot3 = "V3_3",
    }
}

wire_enum! {
    /// Avatar model resolution (`human_model_2d_meta.model_resolution`).
    pub enum ModelResolution {
        /// 1080p model: outputs 1080p or 720p video.
        Hd1080P = "1080P",
        /// 4K model: outputs 4K, 1080p or 720p video.
        Uhd4K = "4K",
    }
}

wire_enum! {
    /// Replaceable part of a material (`components[].component_type`).
    pub enum ComponentType {
        /// Clothes.
        Clothes = "CLOTHES",
        /// Pants.
        Pants = "PANTS",
        /// Shoes.
        Shoes = "SHOES",
        /// Hair.
        Hair = "HAIR",
        /// Eyelashes.
        Eyelash = "EYELASH",
        /// Eyebrows.
        Eyebrow = "EYEBROW",
    }
}

wire_enum! {
    /// Why an asset is `FAILED` (`fail_type`).
    pub enum FailType {
        /// Rejected by automatic review.
        AutomaticReviewReject = "AUTOMATIC_REVIEW_REJECT",
        /// Rejected by manual review.
        ManualReviewReject = "MANUAL_REVIEW_REJECT",
    }
}

wire_enum! {
    /// Operation of `batch_execute_asset_action` (`action`).
    pub enum BatchAction {
        /// Move to the recycle bin.
        Delete = "DELETE",
        /// Delete permanently, at once.
        DeleteForce = "DELETE_FORCE",
        /// Restore from the recycle bin.
        Restore = "RESTORE",
        /// Activate.
        Active = "ACTIVE",
        /// Deactivate.
        Unactive = "UNACTIVE",
        /// Share.
        Share = "SHARE",
        /// Stop sharing.
        Unshare = "UNSHARE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr + Serialize,
        T: for<'de> Deserialize<'de>,
        <T as FromStr>::Err: fmt::Debug,
    {
        for v in all {
            let wire = v.to_string();
            assert_eq!(wire.parse::<T>().unwrap(), *v);
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{wire}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
        }
    }

    #[test]
    fn every_enum_round_trips_through_its_wire_spelling() {
        round_trips(AssetType::ALL);
        round_trips(AssetState::ALL);
        round_trips(SupportedService::ALL);
        round_trips(SharedType::ALL);
        round_trips(AutoOperation::ALL);
        round_trips(SystemPropertyAction::ALL);
        round_trips(SystemPropertyKey::ALL);
        round_trips(FileCategory::ALL);
        round_trips(FileState::ALL);
        round_trips(TranscodingStatus::ALL);
        round_trips(PptAnalysisStatus::ALL);
        round_trips(Orientation::ALL);
        round_trips(VoiceModelType::ALL);
        round_trips(VoiceSex::ALL);
        round_trips(VoiceLanguage::ALL);
        round_trips(ExternalVoiceProvider::ALL);
        round_trips(HumanModelVersion::ALL);
        round_trips(ModelResolution::ALL);
        round_trips(ComponentType::ALL);
        round_trips(FailType::ALL);
        round_trips(BatchAction::ALL);
    }

    #[test]
    fn all_lists_every_documented_variant() {
        assert_eq!(AssetType::ALL.len(), 10);
        assert_eq!(AssetState::ALL.len(), 8);
        assert_eq!(SystemPropertyKey::ALL.len(), 15);
        assert_eq!(FileState::ALL.len(), 9);
        assert_eq!(VoiceLanguage::ALL.len(), 27);
        assert_eq!(ExternalVoiceProvider::ALL.len(), 7);
        assert_eq!(BatchAction::ALL.len(), 7);
    }

    #[test]
    fn business_card_template_is_read_as_templet_and_written_as_templet() {
        let t: AssetType = serde_json::from_str("\"BUSINESS_CARD_TEMPLATE\"").unwrap();
        assert_eq!(t, AssetType::BusinessCardTemplet);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"BUSINESS_CARD_TEMPLET\""
        );
        assert_eq!(
            "BUSINESS_CARD_TEMPLATE".parse::<AssetType>(),
            Ok(AssetType::BusinessCardTemplet)
        );
        assert!(!AssetType::WIRE_NAMES.contains(&"BUSINESS_CARD_TEMPLATE"));
    }

    #[test]
    fn voice_languages_are_case_exact() {
        assert_eq!("fr".parse::<VoiceLanguage>(), Ok(VoiceLanguage::Fr));
        assert_eq!("Kr".parse::<VoiceLanguage>(), Ok(VoiceLanguage::Kr));
        assert_eq!("por".parse::<VoiceLanguage>(), Ok(VoiceLanguage::Por));
        assert_eq!("Ita".parse::<VoiceLanguage>(), Ok(VoiceLanguage::Ita));
        assert!("FR".parse::<VoiceLanguage>().is_err());
        assert!("KR".parse::<VoiceLanguage>().is_err());
        assert!("cn".parse::<VoiceLanguage>().is_err());
        assert_eq!(VoiceLanguage::Fr.as_str(), "fr");
    }

    #[test]
    fn orientation_and_resolution_keep_their_mixed_spelling() {
        assert_eq!(Orientation::Horizontal.as_str(), "Horizontal");
        assert!("HORIZONTAL".parse::<Orientation>().is_err());
        assert_eq!(
            serde_json::to_string(&ModelResolution::Hd1080P).unwrap(),
            "\"1080P\""
        );
        assert_eq!("4K".parse::<ModelResolution>(), Ok(ModelResolution::Uhd4K));
        assert!("4k".parse::<ModelResolution>().is_err());
    }

    #[test]
    fn unknown_spelling_is_refused_with_the_list_of_accepted_values() {
        let err = "VIDEOS".parse::<AssetType>().unwrap_err();
        assert_eq!(err.enum_name, "AssetType");
        assert_eq!(
            err.to_string(),
            "must be one of VOICE_MODEL, VIDEO, IMAGE, PPT, MUSIC, AUDIO, COMMON_FILE, \
             HUMAN_MODEL_2D, BUSINESS_CARD_TEMPLET, MATERIAL"
        );
        let json_err = serde_json::from_str::<VoiceSex>("\"unknown\"").unwrap_err();
        assert!(json_err
            .to_string()
            .starts_with("must be one of UNKNOW, MALE, FEMALE"));
    }

    #[test]
    fn non_string_json_is_refused_as_expecting_a_string() {
        let err = serde_json::from_str::<AssetType>("5").unwrap_err();
        assert!(err.to_string().contains("expected a string"), "{err}");
    }

    #[test]
    fn only_voice_models_and_avatars_are_admin_only() {
        let admin: Vec<_> = AssetType::ALL.iter().filter(|t| t.admin_only()).collect();
        assert_eq!(admin, [&AssetType::VoiceModel, &AssetType::HumanModel2D]);
    }

    #[test]
    fn only_actived_unactived_and_waiting_delete_are_settable_by_update() {
        let settable: Vec<_> = AssetState::ALL
            .iter()
            .filter(|s| s.settable_by_update())
            .collect();
        assert_eq!(
            settable,
            [
                &AssetState::Unactived,
                &AssetState::Actived,
                &AssetState::WaitingDelete
            ]
        );
    }
}
