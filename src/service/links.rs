//! Signed, expiring URLs for uploading and downloading file bytes. A URL names one file
//! (and one part), carries its expiry, and is authenticated by an HMAC-SHA256 over both
//! with a server secret kept in the catalogue; it is useless for any other file.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::error::Code;

/// Why a signed URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature does not match (tampered, or for another file).
    #[error("the URL signature is invalid")]
    BadSignature,
    /// The URL's validity has passed.
    #[error("the URL has expired")]
    Expired,
}

impl LinkError {
    /// Both are a refused URL.
    pub fn code(&self) -> Code {
        Code::BadUrlSignature
    }
}

/// Builds and checks signed URLs.
pub struct Links {
    base_url: String,
    key: Vec<u8>,
    upload_ttl: time::Duration,
    download_ttl: time::Duration,
}

impl Links {
    /// Links under `base_url` (no trailing slash), signed with `key`.
    pub fn new(
        base_url: String,
        key: Vec<u8>,
        upload_ttl: std::time::Duration,
        download_ttl: std::time::Duration,
    ) -> Self {
        Self {
            base_url,
            key,
            upload_ttl: time::Duration::try_from(upload_ttl).unwrap_or(time::Duration::DAY),
            download_ttl: time::Duration::try_from(download_ttl).unwrap_or(time::Duration::DAY),
        }
    }

    fn sign(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn check(
        &self,
        message: &str,
        expires: i64,
        signature: &str,
        now: OffsetDateTime,
    ) -> Result<(), LinkError> {
        let given = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(message.as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| LinkError::BadSignature)?;
        if now.unix_timestamp() > expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    fn upload_message(file_id: &str, part: u32, size: i64, expires: i64) -> String {
        format!("PUT\n{file_id}\n{part}\n{size}\n{expires}")
    }

    /// The URL to PUT part `part` (0 for a single upload) of `file_id`, `size` bytes long
    /// (-1 when the part size is not fixed in advance).
    pub fn upload_url(&self, file_id: &str, part: u32, size: i64, now: OffsetDateTime) -> String {
        let expires = (now + self.upload_ttl).unix_timestamp();
        let signature = self.sign(&Self::upload_message(file_id, part, size, expires));
        format!(
            "{}/uploads/{file_id}?part={part}&size={size}&expires={expires}&signature={signature}",
            self.base_url
        )
    }

    /// Checks an upload URL's query against the file it addresses.
    pub fn verify_upload(
        &self,
        file_id: &str,
        part: u32,
        size: i64,
        expires: i64,
        signature: &str,
        now: OffsetDateTime,
    ) -> Result<(), LinkError> {
        self.check(
            &Self::upload_message(file_id, part, size, expires),
            expires,
            signature,
            now,
        )
    }

    fn download_message(file_id: &str, expires: i64, owner: bool) -> String {
        let scope = if owner { "owner" } else { "any" };
        format!("GET\n{file_id}\n{expires}\n{scope}")
    }

    /// The URL to GET `file_id`'s bytes, valid for the configured download lifetime. An
    /// `owner` URL also serves files still under processing or review (for the owner and the
    /// reviewer); any other URL serves only files that passed.
    pub fn download_url(&self, file_id: &str, owner: bool, now: OffsetDateTime) -> String {
        self.download_url_until(file_id, owner, (now + self.download_ttl).unix_timestamp())
    }

    /// The URL to GET `file_id`'s bytes until `expires` (Unix seconds).
    pub fn download_url_until(&self, file_id: &str, owner: bool, expires: i64) -> String {
        let signature = self.sign(&Self::download_message(file_id, expires, owner));
        let scope = if owner { "&scope=owner" } else { "" };
        format!(
            "{}/downloads/{file_id}?expires={expires}{scope}&signature={signature}",
            self.base_url
        )
    }

    /// Checks a download URL's query.
    pub fn verify_download(
        &self,
        file_id: &str,
        expires: i64,
        owner: bool,
        signature: &str,
        now: OffsetDateTime,
    ) -> Result<(), LinkError> {
        self.check(
            &Self::download_message(file_id, expires, owner),
            expires,
            signature,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn links() -> Links {
        Links::new(
            "http://h".into(),
            b"k".to_vec(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
    }

    fn query(url: &str, key: &str) -> String {
        url.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap()
            .to_owned()
    }

    #[test]
    fn an_upload_url_verifies_only_for_its_own_file_part_and_size() {
        let now = OffsetDateTime::now_utc();
        let l = links();
        let url = l.upload_url("f1", 0, 10, now);
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let sig = query(&url, "signature");
        assert_eq!(l.verify_upload("f1", 0, 10, expires, &sig, now), Ok(()));
        assert_eq!(
            l.verify_upload("f2", 0, 10, expires, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            l.verify_upload("f1", 1, 10, expires, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            l.verify_upload("f1", 0, 11, expires, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            l.verify_upload("f1", 0, 10, expires + 1, &sig, now),
            Err(LinkError::BadSignature)
        );
        let later = now + time::Duration::seconds(61);
        assert_eq!(
            l.verify_upload("f1", 0, 10, expires, &sig, later),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn a_download_url_expires_and_cannot_be_moved_to_another_file() {
        let now = OffsetDateTime::now_utc();
        let l = links();
        let url = l.download_url("f1", false, now);
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let sig = query(&url, "signature");
        assert_eq!(l.verify_download("f1", expires, false, &sig, now), Ok(()));
        assert_eq!(
            l.verify_download("f9", expires, false, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            l.verify_download("f1", expires, false, "zz", now),
            Err(LinkError::BadSignature)
        );
        let later = now + time::Duration::seconds(61);
        assert_eq!(
            l.verify_download("f1", expires, false, &sig, later),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn an_owner_download_url_is_not_a_public_one() {
        let now = OffsetDateTime::now_utc();
        let l = links();
        let url = l.download_url("f1", true, now);
        assert!(url.contains("scope=owner"));
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let sig = query(&url, "signature");
        assert_eq!(l.verify_download("f1", expires, true, &sig, now), Ok(()));
        assert_eq!(
            l.verify_download("f1", expires, false, &sig, now),
            Err(LinkError::BadSignature)
        );
    }
}
