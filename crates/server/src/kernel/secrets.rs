//! The server key: encrypts secrets at rest (2FA secrets) so that a copy of the database
//! alone does not reveal them. The key lives in a file outside the database, made on first
//! start if absent (`secret_key_file`, see docs/configuration.md).

use super::error::AppError;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use std::io::Write;
use std::path::Path;

/// Prefix of stored ciphertexts, so a future key or cipher change can be told apart.
const VERSION: &str = "v1.";
const NONCE_BYTES: usize = 12;

/// A 256-bit key for AES-256-GCM.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(…)")
    }
}

impl ServerKey {
    /// Reads the key file, or makes one (readable by the owner only) if there is none. Two
    /// instances starting at once agree on one key: the file appears complete or not at all.
    pub fn load_or_create(path: &Path) -> anyhow::Result<ServerKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| {
                anyhow::anyhow!("the server key file {} is not valid: {e}", path.display())
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&tmp).map_err(|e| {
                    anyhow::anyhow!("cannot create the server key file {}: {e}", path.display())
                })?;
                writeln!(file, "{}", STANDARD.encode(key))?;
                file.sync_all()?;
                // A hard link fails if another instance won the race; then use its key.
                let linked = std::fs::hard_link(&tmp, path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => {
                        tracing::info!(path = %path.display(), "made a new server key");
                        Ok(ServerKey(key))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(path)
                    }
                    Err(e) => Err(anyhow::anyhow!(
                        "cannot create the server key file {}: {e}",
                        path.display()
                    )),
                }
            }
            Err(e) => Err(anyhow::anyhow!(
                "cannot read the server key file {}: {e}",
                path.display()
            )),
        }
    }

    /// A key from its base64 text (32 bytes).
    pub fn parse(text: &str) -> Result<ServerKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "it must hold 32 bytes in base64".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "it must hold 32 bytes in base64".to_owned())?;
        Ok(ServerKey(key))
    }

    /// Encrypts `plain`, bound to `context` (e.g. the account it belongs to), so a stored
    /// value copied onto another account does not decrypt.
    pub fn encrypt(&self, plain: &[u8], context: &str) -> Result<String, AppError> {
        let cipher = Aes256Gcm::new((&self.0).into());
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| AppError::Internal("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts what [`ServerKey::encrypt`] made for the same `context`.
    pub fn decrypt(&self, stored: &str, context: &str) -> Result<Vec<u8>, AppError> {
        let unreadable = || {
            AppError::Internal(format!(
                "a stored secret ({context}) cannot be decrypted: the server key file is not the one it was made with"
            ))
        };
        let bytes = stored
            .strip_prefix(VERSION)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_BYTES)
            .ok_or_else(unreadable)?;
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        Aes256Gcm::new((&self.0).into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_decrypt_only_with_their_key_and_context() {
        let key = ServerKey([7; 32]);
        let sealed = key.encrypt(b"totp secret", "employee:1").expect("encrypt");
        assert!(!sealed.contains("totp"));
        assert_eq!(
            key.decrypt(&sealed, "employee:1").expect("decrypt"),
            b"totp secret"
        );
        assert!(key.decrypt(&sealed, "employee:2").is_err());
        assert!(ServerKey([8; 32]).decrypt(&sealed, "employee:1").is_err());
        assert!(key.decrypt("v1.AAAA", "employee:1").is_err());
    }

    #[test]
    fn the_key_file_is_made_once_and_then_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("accord-secret.key");
        let made = ServerKey::load_or_create(&path).expect("create");
        let read = ServerKey::load_or_create(&path).expect("read");
        assert_eq!(made.0, read.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").expect("write");
        assert!(ServerKey::load_or_create(&path).is_err());
    }
}
