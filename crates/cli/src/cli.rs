//! The command-line grammar (reference §9).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// keygate: API keys and JWTs for HTTP APIs, and the gateway that checks them.
#[derive(Debug, Parser)]
#[command(name = "keygate", version, about, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success, 1 negative answer, 2 usage or configuration error.")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate credentials.
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Work with stored API-key hashes.
    #[command(subcommand)]
    Hash(HashCommand),
    /// Create keys for, sign and verify JWTs.
    #[command(subcommand)]
    Jwt(JwtCommand),
    /// Run the auth gateway.
    Serve(ServeArgs),
    /// Exchange a project key for a short-lived token at a keygate server.
    Token(TokenArgs),
    /// Talk to a running gateway's admin API.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Managed keys: create, list, revoke and reroll keys in the key store (docs/keys.md).
    Keys(KeysArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// The key store: sqlite://PATH or postgres://USER@HOST:PORT/DB (default: [keys] store,
    /// else sqlite://keygate-keys.db).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// Configuration file consulted for [keys] store (default: ./moose.config.toml if present).
    #[arg(long, global = true)]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: KeysCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ManagedClass {
    /// `/ingest/` routes.
    Ingest,
    /// `/api/` routes.
    Consumption,
    /// `/admin/` routes.
    Admin,
    /// A token-issuer project: POST /auth/token with projectId = the name.
    Project,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key; its token is printed once, never again.
    #[command(after_help = "Examples:
  keygate keys create --class consumption --name reporting --expires-in 30d
  keygate keys create --class ingest --name sensor-7 --rate-limit 100/s --meta team=iot --json")]
    Create {
        /// What the key opens.
        #[arg(long, value_enum)]
        class: ManagedClass,
        /// Its name (for project keys: the projectId at POST /auth/token).
        #[arg(long)]
        name: String,
        /// Lifetime: 90s, 15m, 24h, 30d (default: until revoked).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Token bucket per replica: 100/s, 6000/m, 100000/d.
        #[arg(long, value_name = "N/UNIT")]
        rate_limit: Option<String>,
        /// Metadata `key=value`; repeatable.
        #[arg(long = "meta", value_name = "K=V")]
        meta: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys: id, name, class, created, expires, last used, status.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: refused by every replica within a second.
    Revoke {
        /// The key's id (16 hex characters).
        id: String,
    },
    /// Give a key a new secret; the old one works until the grace period ends.
    Reroll {
        /// The key's id (16 hex characters).
        id: String,
        /// How long the old secret keeps working (default 24h; 0s ends it now).
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        grace: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum GenerateCommand {
    /// Generate an API key: a bearer token for clients and its hash for the server.
    #[command(after_help = "Examples:
  keygate generate hash-token
  keygate generate hash-token --format phc --iterations 600000 --json")]
    HashToken(HashTokenArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormat {
    /// `<hex>.<hex>` tokens, 40-hex hash: compatible with Moose.
    Moose,
    /// `kg_` tokens with a checksum, `$pbkdf2-sha256$` hash with tunable iterations.
    Phc,
}

#[derive(Debug, Args)]
pub(crate) struct HashTokenArgs {
    /// Key format.
    #[arg(long, value_enum, default_value_t = KeyFormat::Moose)]
    pub(crate) format: KeyFormat,
    /// PBKDF2 iterations (phc only; 1000 to 10000000).
    #[arg(long)]
    pub(crate) iterations: Option<u32>,
    /// Print JSON instead of the two text lines.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HashCommand {
    /// Check a bearer token against a stored hash (exit 0 match, 1 no match).
    #[command(after_help = "Examples:
  keygate hash verify --hash 6d1f...c3 < token.txt
  keygate hash verify --hash '$pbkdf2-sha256$i=600000,l=32$...' --token kg_...")]
    Verify {
        /// The stored hash (either format).
        #[arg(long)]
        hash: String,
        /// The bearer token; read from stdin when absent (keeps it out of shell history).
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Alg {
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JwtCommand {
    /// Write a new key pair as private.pem and public.pem.
    #[command(after_help = "Example:
  keygate jwt keygen --out ./keys --alg RS256")]
    Keygen {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Signature algorithm of the key (any letter case).
        #[arg(long, value_enum, ignore_case = true, default_value_t = Alg::Rs256)]
        alg: Alg,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Sign a token with a private key.
    #[command(after_help = "Example:
  keygate jwt sign --key keys/private.pem --iss https://issuer/ --aud my-app --sub alice --claim role=admin")]
    Sign(JwtSignArgs),
    /// Verify a token against the configured JWT settings; prints the claims as JSON.
    #[command(after_help = "Example:
  keygate jwt verify --config moose.config.toml eyJhbGciOi...")]
    Verify {
        /// Configuration file (default: ./moose.config.toml, then the environment).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The token; read from stdin when absent.
        token: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct JwtSignArgs {
    /// Private key PEM file (PKCS#8, or PKCS#1 for RSA).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// Issuer (`iss`).
    #[arg(long)]
    pub(crate) iss: String,
    /// Audience (`aud`).
    #[arg(long)]
    pub(crate) aud: String,
    /// Subject (`sub`).
    #[arg(long)]
    pub(crate) sub: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub(crate) ttl: u64,
    /// Extra claim `name=value` (value parsed as JSON when it is valid JSON); repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub(crate) claims: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  keygate serve                                   # development mode when nothing is configured
  keygate serve --config moose.config.toml --upstream http://127.0.0.1:8080
  MOOSE_ADMIN_TOKEN=... keygate serve --listen 0.0.0.0:4000")]
pub(crate) struct ServeArgs {
    /// Configuration file (default: ./moose.config.toml if present).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on (default: [server] listen, else 127.0.0.1:4000).
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
    /// Proxy authenticated requests to this HTTP service instead of the built-in echo handlers.
    #[arg(long)]
    pub(crate) upstream: Option<String>,
    /// Plain-text admin token (highest precedence; prefer MOOSE_ADMIN_TOKEN to keep it out of `ps`).
    #[arg(long)]
    pub(crate) admin_token: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:
  keygate token --url http://127.0.0.1:4000 --project-id my-project < project-key.txt")]
pub(crate) struct TokenArgs {
    /// Base URL of the keygate server.
    #[arg(long)]
    pub(crate) url: String,
    /// Project id.
    #[arg(long)]
    pub(crate) project_id: String,
    /// Project key; read from stdin when absent.
    #[arg(long)]
    pub(crate) project_key: Option<String>,
    /// Print `{"token", "expiresIn"}` JSON instead of the bare token.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RemoteCommand {
    /// Show a gateway's mechanisms, key ids and statistics.
    #[command(after_help = "Example:
  MOOSE_ADMIN_TOKEN=... keygate remote status --url http://127.0.0.1:4000")]
    Status(RemoteArgs),
    /// Make a gateway re-read its configuration (a bad one is refused and the old one kept).
    Reload(RemoteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RemoteArgs {
    /// Base URL of the gateway.
    #[arg(long)]
    pub(crate) url: String,
    /// Plain-text admin token (default: MOOSE_ADMIN_TOKEN).
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// Configuration file, consulted only to explain a missing token.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Load and validate the configuration; exit 2 with the reason if it is bad.
    #[command(after_help = "Example:
  keygate config check --show-origin")]
    Check {
        /// Configuration file (default: ./moose.config.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print every effective setting with where it came from (secrets redacted).
        #[arg(long)]
        show_origin: bool,
    },
}
