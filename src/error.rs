//! The error vocabulary shared by every module: each module's error enum maps itself onto
//! one [`Code`]; `http::error` owns the only table from `Code` to the wire.

/// What kind of failure an error is, independent of transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Missing, unknown or wrong credentials or signature.
    Unauthorized,
    /// Valid credentials used on another project's path.
    ProjectMismatch,
    /// A caller without admin rights asked for an admin-only operation.
    Forbidden,
    /// A signed URL that was tampered with or has expired.
    BadUrlSignature,
    /// The request body is not JSON at all.
    MalformedJson,
    /// A parameter broke a rule (also state conflicts the SDK reports as 400).
    InvalidParameter,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// No asset with that id in the caller's view.
    AssetNotFound,
    /// No file with that id in the caller's view.
    FileNotFound,
    /// The asset already has its MAIN file.
    MainFileExists,
    /// The asset already has a COVER file.
    CoverFileExists,
    /// An auxiliary file (cover, page image) is over its size limit.
    FileTooLarge,
    /// The uploaded bytes do not match what was declared.
    UploadMismatch,
    /// The stored bytes of a file failed their integrity check and are withheld.
    ContentDamaged,
    /// The request would take the project past its storage or asset quota.
    QuotaExceeded,
    /// The project sent more requests per second than its quota allows.
    TooManyRequests,
    /// Replication info names a key this library does not hold.
    ReplicationKeyUnknown,
    /// Replication info does not decrypt: tampered with, or not replication info at all.
    ReplicationInfoInvalid,
    /// Replication info is past its `expire_time`.
    ReplicationInfoExpired,
    /// The files of replicated asset could not be fetched from the source library intact.
    ReplicationFetchFailed,
    /// No such route.
    RouteNotFound,
    /// Route exists but not with this method.
    MethodNotAllowed,
    /// The feature exists in the API but this server does not provide it.
    NotImplemented,
    /// Anything unexpected; the cause is logged, never sent.
    Internal,
    /// The server cannot serve right now: its catalogue does not accept writes (`/health`),
    /// or a dependency is not working (`/ready`).
    Unavailable,
}
