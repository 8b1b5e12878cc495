//! Deaths at chosen moments, for tests only (the `failpoints` feature,
//! which only `pdk`'s test build turns on): with `POWERDECK_KILL_AT=POINT`
//! the process sends itself SIGKILL, as `kill -9` would, when an operation
//! reaches POINT. The tests then prove recovery from a real death at each
//! phase of an operation (README "When things go wrong").
//!
//! Points: `before-journal` (nothing written yet), `after-journal` (the
//! operation is journalled, its request not sent), `after-submit` (the
//! provider took the request, nothing recorded about it).

/// Die here if the environment asks for it.
pub fn hit(point: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var("POWERDECK_KILL_AT").as_deref() == Ok(point) {
        // SAFETY: kill(2) on our own pid with a signal that cannot be caught.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = point;
}
