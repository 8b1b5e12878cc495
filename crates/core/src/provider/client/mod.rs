//! What every provider shares, in the spirit of object_store's `client/`:
//! the HTTP transport (TLS, no redirects, bounded bodies, errors that say
//! whether a request may have run), the per-request call layer (rate limit
//! per scope, retry with one backoff), the token/session cache, the signing
//! seam, tolerant batch reads, secrets kept out of echoed text, and the
//! small XML element tree.

pub mod backoff;
pub mod batch;
pub mod calls;
pub mod http;
pub mod redact;
pub mod sign;
pub mod token;
pub mod xml;
