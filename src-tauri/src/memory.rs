//! Giving memory back. Reading a 100 000-VM inventory for the window (and
//! a full sync of it) allocates some 100 MB for a moment; glibc keeps what
//! was freed for reuse, so the app would carry it for as long as it runs.
//! After such a moment we ask glibc to return the free pages to the system.

/// Return freed heap memory to the system, where the C library can.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no
    // pointer from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
