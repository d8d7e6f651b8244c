//! Authentication: the cookie file, `-rpcuser`/`-rpcpassword` and `-rpcauth`.
//!
//! Every credential is stored the way Core master stores it, as a
//! `(user, salt, HMAC-SHA256(salt, password))` entry, so one timing-resistant
//! comparison path serves all three sources.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use bitcoin_hashes::{hmac, sha256, Hash as _, HashEngine as _};

/// The user name of the cookie credential.
pub const COOKIEAUTH_USER: &str = "__cookie__";

/// Where and how to write the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    /// The cookie's path (`<datadir>/<chain>/.cookie` by default).
    pub path: PathBuf,
    /// File mode bits (0o600 for `owner`, 0o640 `group`, 0o644 `all`).
    pub mode: u32,
}

/// The authentication slice of the node's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `-rpcuser`.
    pub user: String,
    /// `-rpcpassword`; when empty a cookie is generated instead.
    pub password: String,
    /// `-rpcauth` entries, `<user>:<salt>$<hash>`.
    pub rpcauth: Vec<String>,
    /// The cookie to write when no password is set; `None` for
    /// `-norpccookiefile`.
    pub cookie: Option<CookieConfig>,
    /// `-rpcwhitelist` entries, `<user>:<method>,<method>...`.
    pub rpcwhitelist: Vec<String>,
    /// `-rpcwhitelistdefault`; when unset it defaults to whether any
    /// `-rpcwhitelist` was given.
    pub rpcwhitelistdefault: Option<bool>,
}

/// Who may call what (`-rpcwhitelist`, `-rpcwhitelistdefault`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Whitelist {
    default_deny: bool,
    users: std::collections::HashMap<String, std::collections::HashSet<String>>,
}

/// A whitelist decision that refuses the request (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forbidden {
    /// The user has no list and `-rpcwhitelistdefault` is on.
    AnyMethod,
    /// The method is not on the user's list.
    Method(String),
}

impl Whitelist {
    /// Builds the whitelist as Core does: a value without `:` gives the user
    /// an empty list; methods are separated by commas and/or spaces; a user
    /// listed twice gets the intersection.
    #[must_use]
    pub fn new(entries: &[String], default: Option<bool>) -> Self {
        let mut users: std::collections::HashMap<String, std::collections::HashSet<String>> =
            std::collections::HashMap::new();
        for entry in entries {
            let (user, methods) = match entry.split_once(':') {
                Some((u, m)) => (u, m.split([',', ' ']).map(str::to_owned).collect()),
                None => (entry.as_str(), std::collections::HashSet::new()),
            };
            match users.get_mut(user) {
                Some(existing) => existing.retain(|m| methods.contains(m)),
                None => {
                    users.insert(user.to_owned(), methods);
                }
            }
        }
        Self { default_deny: default.unwrap_or(!entries.is_empty()), users }
    }

    /// Whether `user` has a list of its own.
    #[must_use]
    pub fn has_list(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// The check made before a request is parsed.
    ///
    /// # Errors
    /// [`Forbidden::AnyMethod`] for a user without a list under
    /// `-rpcwhitelistdefault`.
    pub fn check_user(&self, user: &str) -> Result<(), Forbidden> {
        if !self.has_list(user) && self.default_deny {
            Err(Forbidden::AnyMethod)
        } else {
            Ok(())
        }
    }

    /// The check of one method.
    ///
    /// # Errors
    /// [`Forbidden::Method`] when the user has a list without `method`.
    pub fn check_method(&self, user: &str, method: &str) -> Result<(), Forbidden> {
        match self.users.get(user) {
            Some(list) if !list.contains(method) => Err(Forbidden::Method(method.to_owned())),
            _ => Ok(()),
        }
    }
}

/// Errors while setting authentication up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A `-rpcauth` value is not `<user>:<salt>$<hash>`.
    #[error("Invalid -rpcauth argument.")]
    InvalidRpcAuth,
    /// The cookie could not be written.
    #[error("Unable to open cookie authentication file {path} for writing: {source}")]
    Cookie {
        /// The path that failed.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// `-rpccookieperms` to mode bits (`owner`, `group`, `all`).
#[must_use]
pub fn cookie_perms(value: &str) -> Option<u32> {
    match value {
        "owner" => Some(0o600),
        "group" => Some(0o640),
        "all" => Some(0o644),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    user: String,
    salt: String,
    /// The HMAC, decoded from its hex form. Core compares lowercase hex
    /// strings, so a value that is not 64 lowercase hex digits can never
    /// match; it is kept as `None`.
    hash: Option<[u8; 32]>,
}

/// Decodes 64 lowercase hex digits.
fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// The set of accepted credentials.
#[derive(Debug, Default)]
pub struct Credentials {
    entries: Vec<Entry>,
    /// Authorization headers already verified, by SHA-256 of the header, so
    /// a client that sends the same valid credentials on every request pays
    /// one hash instead of an HMAC per entry. Failures are never cached.
    verified: std::sync::RwLock<std::collections::HashMap<[u8; 32], Arc<str>>>,
    /// Tells this set apart in [`LAST_VERIFIED`] (sets never change once
    /// built, so an entry stays valid for as long as its set lives).
    id: u64,
}

/// Each thread's last verified `Authorization` header: (credential set,
/// header, user). A client sends the same header on every request, so the
/// usual check is one timing-resistant comparison, touching no lock and no
/// memory shared with the other worker threads.
type LastVerified = Option<(u64, Box<[u8]>, Arc<str>)>;

thread_local! {
    static LAST_VERIFIED: std::cell::RefCell<LastVerified> = const { std::cell::RefCell::new(None) };
}

/// Numbers credential sets for [`LAST_VERIFIED`] (0 is left to sets made
/// by `Default`, which accept nothing).
static NEXT_CREDENTIALS_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Verified headers remembered at most (the cache is cleared past it).
const VERIFIED_CACHE: usize = 256;

/// A cookie file this process wrote; deleted by StopRPC.
#[derive(Debug)]
pub struct CookieFile {
    path: PathBuf,
}

impl CookieFile {
    /// The cookie's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the file (failure only warns, as in Core).
    pub fn delete(self) {
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!("Unable to remove random auth cookie file {}: {e}", self.path.display());
        }
    }
}

fn hmac(salt: &str, password: &[u8]) -> [u8; 32] {
    let mut engine = hmac::HmacEngine::<sha256::Hash>::new(salt.as_bytes());
    engine.input(password);
    hmac::Hmac::<sha256::Hash>::from_engine(engine).to_byte_array()
}

#[cfg(test)]
fn hmac_hex(salt: &str, password: &str) -> String {
    hex(&hmac(salt, password.as_bytes()))
}

/// Lowercase hex, by `bitcoin_hashes`' encoder (the workspace's one hex codec).
fn hex(bytes: &[u8]) -> String {
    use bitcoin_hashes::hex::DisplayHex as _;
    bytes.to_lower_hex_string()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source does not fail on supported platforms; if it did,
    // a zero cookie would still only be readable by the node's own user, but
    // refuse to continue rather than weaken auth silently.
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}

/// Compares without an early exit, so timing does not reveal where two
/// secrets first differ.
fn timing_resistant_eq(a: &[u8], b: &[u8]) -> bool {
    // Like Core's `TimingResistantEqual`: every byte of `a` is compared
    // with `b` repeated, so the time depends on the lengths only. The index
    // into `b` wraps with a comparison, not a division per byte (a header
    // is compared on every request).
    let mut diff = a.len() ^ b.len();
    let mut j = 0;
    for x in a {
        diff |= usize::from(x ^ b.get(j).copied().unwrap_or(0));
        j += 1;
        if j == b.len() {
            j = 0;
        }
    }
    diff == 0
}

impl Credentials {
    /// Builds the credential set, writing the cookie when no password is set.
    ///
    /// # Errors
    /// [`AuthError::InvalidRpcAuth`] or [`AuthError::Cookie`].
    pub fn init(config: &AuthConfig) -> Result<(Self, Option<CookieFile>), AuthError> {
        let mut creds =
            Self { id: NEXT_CREDENTIALS_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed), ..Self::default() };
        let mut cookie = None;
        let (user, pass) = if config.password.is_empty() {
            match &config.cookie {
                Some(cc) => {
                    let secret = hex(&random_bytes::<32>());
                    write_cookie(cc, &format!("{COOKIEAUTH_USER}:{secret}"))?;
                    tracing::info!("Generated RPC authentication cookie {}", cc.path.display());
                    tracing::info!("Permissions used for cookie: {}", perm_string(cc.mode));
                    tracing::info!("Using random cookie authentication.");
                    cookie = Some(CookieFile { path: cc.path.clone() });
                    (COOKIEAUTH_USER.to_owned(), secret)
                }
                None => {
                    tracing::info!("RPC authentication cookie file generation is disabled.");
                    (String::new(), String::new())
                }
            }
        } else {
            tracing::info!("Using rpcuser/rpcpassword authentication.");
            tracing::warn!("The use of rpcuser/rpcpassword is less secure, because credentials are configured in plain text. It is recommended that locally-run instances switch to cookie-based auth, or otherwise to use hashed rpcauth credentials. See share/rpcauth in the source directory for more information.");
            (config.user.clone(), config.password.clone())
        };
        if !user.is_empty() || !pass.is_empty() {
            let salt = hex(&random_bytes::<16>());
            let hash = Some(hmac(&salt, pass.as_bytes()));
            creds.entries.push(Entry { user, salt, hash });
        }
        if !config.rpcauth.is_empty() {
            tracing::info!("Using rpcauth authentication.");
        }
        for value in &config.rpcauth {
            let fields: Vec<&str> = value.split(':').collect();
            let salt_hash: Vec<&str> = fields.last().map(|f| f.split('$').collect()).unwrap_or_default();
            if fields.len() != 2 || salt_hash.len() != 2 {
                tracing::warn!("Invalid -rpcauth argument.");
                return Err(AuthError::InvalidRpcAuth);
            }
            creds.entries.push(Entry {
                user: fields[0].to_owned(),
                salt: salt_hash[0].to_owned(),
                hash: decode_hash(salt_hash[1]),
            });
        }
        Ok((creds, cookie))
    }

    /// Checks an `Authorization` header value. Returns the user name when the
    /// credentials are valid.
    #[must_use]
    pub fn check(&self, authorization: &str) -> Option<Arc<str>> {
        let header = authorization.as_bytes();
        let memo = LAST_VERIFIED.with_borrow(|last| match last {
            // timing depends on the length of the header presented only
            Some((id, known, user)) if *id == self.id && timing_resistant_eq(header, known) => Some(Arc::clone(user)),
            _ => None,
        });
        if memo.is_some() {
            return memo;
        }
        let user = self.check_cached(authorization)?;
        // The memo keeps a copy of the name of its own: the reference count
        // it hands out is then touched by this thread only, not by every
        // thread that serves the same user.
        let own: Arc<str> = Arc::from(&*user);
        LAST_VERIFIED.set(Some((self.id, header.into(), Arc::clone(&own))));
        Some(own)
    }

    /// [`check`](Self::check) through the shared cache of verified headers.
    fn check_cached(&self, authorization: &str) -> Option<Arc<str>> {
        let digest = sha256::Hash::hash(authorization.as_bytes()).to_byte_array();
        if let Some(user) = self.verified.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&digest) {
            return Some(Arc::clone(user));
        }
        let user: Arc<str> = self.check_uncached(authorization)?.into();
        let mut cache = self.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= VERIFIED_CACHE {
            cache.clear();
        }
        cache.insert(digest, Arc::clone(&user));
        Some(user)
    }

    fn check_uncached(&self, authorization: &str) -> Option<String> {
        let encoded = authorization.strip_prefix("Basic ")?.trim();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        let (user, pass) = (&decoded[..colon], &decoded[colon + 1..]);
        let ok = self.entries.iter().any(|e| {
            timing_resistant_eq(e.user.as_bytes(), user)
                && e.hash.is_some_and(|h| timing_resistant_eq(&hmac(&e.salt, pass), &h))
        });
        ok.then(|| String::from_utf8_lossy(user).into_owned())
    }
}

fn perm_string(mode: u32) -> String {
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    [
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        bit(0o100, 'x'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        bit(0o010, 'x'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        bit(0o001, 'x'),
    ]
    .iter()
    .collect()
}

fn write_cookie(cc: &CookieConfig, content: &str) -> Result<(), AuthError> {
    let mut tmp = cc.path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let fail = |source| AuthError::Cookie { path: tmp.clone(), source };
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(cc.mode);
    }
    let mut file = opts.open(&tmp).map_err(fail)?;
    file.write_all(content.as_bytes()).map_err(fail)?;
    #[cfg(unix)]
    {
        // The umask may have cleared bits that were asked for.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(fs::Permissions::from_mode(cc.mode)).map_err(fail)?;
    }
    drop(file);
    fs::rename(&tmp, &cc.path).map_err(|source| AuthError::Cookie { path: cc.path.clone(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass))
    }

    #[test]
    fn rpcauth_vector_from_core_tests() {
        // rt:PASSWORD-style entry produced by share/rpcauth/rpcauth.py
        let salt = "cb77f0957de88ff388cf817ddbc7273";
        let hash = hmac_hex(salt, "75kiWBDyMe1TFB5aY9oEaiZHsx8TbEgDAfbzyPDHS8Y=");
        let cfg = AuthConfig { rpcauth: vec![format!("rt:{salt}${hash}")], ..AuthConfig::default() };
        let (creds, cookie) = Credentials::init(&cfg).unwrap();
        assert!(cookie.is_none());
        assert_eq!(creds.check(&basic("rt:75kiWBDyMe1TFB5aY9oEaiZHsx8TbEgDAfbzyPDHS8Y=")), Some("rt".into()));
        assert_eq!(creds.check(&basic("rt:wrong")), None);
        assert_eq!(creds.check(&basic("rt2:75kiWBDyMe1TFB5aY9oEaiZHsx8TbEgDAfbzyPDHS8Y=")), None);
    }

    #[test]
    fn whitelist_rules() {
        let w = Whitelist::new(
            &["alice:getblockcount, help,stop".into(), "alice:help stop uptime".into(), "bob".into()],
            None,
        );
        assert_eq!(w.check_user("carol"), Err(Forbidden::AnyMethod));
        assert_eq!(w.check_user("bob"), Ok(()));
        assert_eq!(w.check_method("bob", "help"), Err(Forbidden::Method("help".into())));
        // intersection of alice's two lists
        assert_eq!(w.check_method("alice", "help"), Ok(()));
        assert_eq!(w.check_method("alice", "stop"), Ok(()));
        assert!(w.check_method("alice", "getblockcount").is_err());
        assert!(w.check_method("alice", "uptime").is_err());
        let open = Whitelist::new(&["alice:help".into()], Some(false));
        assert_eq!(open.check_user("carol"), Ok(()));
        assert_eq!(open.check_method("carol", "anything"), Ok(()));
        let closed = Whitelist::new(&[], Some(true));
        assert_eq!(closed.check_user("anyone"), Err(Forbidden::AnyMethod));
    }

    #[test]
    fn invalid_rpcauth() {
        for bad in ["nocolon", "a:b:c$d", "a:nodollar", "a:b$c$d"] {
            let cfg = AuthConfig { rpcauth: vec![bad.into()], ..AuthConfig::default() };
            assert!(matches!(Credentials::init(&cfg), Err(AuthError::InvalidRpcAuth)), "{bad}");
        }
    }

    #[test]
    fn user_password_and_malformed_headers() {
        let cfg = AuthConfig { user: "u".into(), password: "p:w".into(), ..AuthConfig::default() };
        let (creds, _) = Credentials::init(&cfg).unwrap();
        assert_eq!(creds.check(&basic("u:p:w")), Some("u".into()));
        assert_eq!(creds.check(&format!("  {}", basic("u:p:w"))), None);
        assert_eq!(creds.check("Basic !!!"), None);
        assert_eq!(creds.check(&basic("nocolon")), None);
        assert_eq!(creds.check("Bearer x"), None);
        assert_eq!(creds.check(&format!("{}  ", basic("u:p:w"))), Some("u".into()));
    }

    #[test]
    fn timing_resistant_eq_is_equality() {
        for (a, b) in [
            ("", ""),
            ("a", ""),
            ("", "a"),
            ("abc", "abc"),
            ("abc", "abd"),
            ("abcabc", "abc"),
            ("abc", "abcabc"),
            ("x", "xx"),
        ] {
            assert_eq!(timing_resistant_eq(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn remembered_headers_stay_with_their_credential_set() {
        let a = Credentials::init(&AuthConfig { user: "u".into(), password: "p".into(), ..AuthConfig::default() })
            .unwrap()
            .0;
        let b = Credentials::init(&AuthConfig { user: "u".into(), password: "q".into(), ..AuthConfig::default() })
            .unwrap()
            .0;
        for _ in 0..3 {
            assert_eq!(a.check(&basic("u:p")), Some("u".into()));
            // the header `a` just accepted means nothing to `b`, nor to a set
            // that accepts nobody
            assert_eq!(b.check(&basic("u:p")), None);
            assert_eq!(Credentials::default().check(&basic("u:p")), None);
            // a header differing in its last byte, or longer, is refused
            assert_eq!(a.check(&basic("u:q")), None);
            assert_eq!(a.check(&format!("{}A", basic("u:p"))), None);
            assert_eq!(b.check(&basic("u:q")), Some("u".into()));
        }
    }

    #[test]
    fn cookie_is_written_with_mode() {
        let dir = std::env::temp_dir().join(format!("ferronode-cookie-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".cookie");
        let cfg =
            AuthConfig { cookie: Some(CookieConfig { path: path.clone(), mode: 0o600 }), ..AuthConfig::default() };
        let (creds, cookie) = Credentials::init(&cfg).unwrap();
        let content = fs::read_to_string(&path).unwrap();
        let (user, secret) = content.split_once(':').unwrap();
        assert_eq!(user, "__cookie__");
        assert_eq!(secret.len(), 64);
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(creds.check(&basic(&content)), Some("__cookie__".into()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        cookie.unwrap().delete();
        assert!(!path.exists());
        let _ = fs::remove_dir_all(dir);
    }
}
