//! Wire model of the asset API: request bodies, shared objects, enums and their rules.
//!
//! A handler reads a body with [`parse_json`], which refuses bad JSON, wrong types, unknown
//! enum spellings and missing required fields, then calls [`Validate::validate`] (or
//! `validate_for` on updates) for lengths, ranges and formats. Both report the dotted path of
//! the offending field. Who may send what (admin-only types and properties, state
//! transitions) is decided by the service, not here.

pub mod body;
pub mod enums;
pub mod files;
pub mod meta;
pub mod validate;

pub use body::{
    parse_json, BatchAssetActionBody, BodyError, CreateAssetBody, ListAssetSummarysBody,
    UpdateAssetBody,
};
pub use enums::{
    AssetState, AssetType, AutoOperation, BatchAction, ComponentType, ExternalVoiceProvider,
    FailType, FileCategory, FileState, HumanModelVersion, ModelResolution, Orientation,
    PptAnalysisStatus, SharedType, SupportedService, SystemPropertyAction, SystemPropertyKey,
    TranscodingStatus, UnknownVariant, VoiceLanguage, VoiceModelType, VoiceSex,
};
pub use files::{ConfirmFileBody, FilesCreateBody, LargeFilesCreateBody};
pub use meta::{
    ActionTagInfo, AssetExtraMeta, AssetSharedConfig, AudioAssetMeta, AutoOperationConfig,
    ErrorInfo, ExternalVoiceAssetMeta, HumanModel2DAssetMeta, ImageAssetMeta, MaterialAssetMeta,
    MaterialComponentInfo, PptAssetMeta, PptPageInfo, ReviewConfig, SystemProperty, VideoAssetMeta,
    VoiceCapability, VoiceModelAssetMeta,
};
pub use validate::{Validate, ValidationError};
