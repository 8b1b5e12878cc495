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

/// Two malloc arenas instead of glibc's default of up to eight per core:
/// each thread that allocates (tokio's workers, the blocking pool, WebKit's
/// and GTK's threads) otherwise gets an arena of its own, and what a 100 000-
/// VM sync or inventory read frees stays scattered across them where
/// `malloc_trim` cannot return it. Measured at 100 000 VMs: the app's heap
/// 72–92 MB with the default, 41–48 MB with two.
///
/// And blocks of a mebibyte or more always mapped on their own: glibc
/// otherwise raises that threshold to the largest block freed so far, so
/// after the first big one, the next (the 8 MB inventory answer, a 100 000-
/// VM list read) come from the heap and stay there once freed, at any
/// moment no `give_back` follows (after the answer reached the window).
/// Mapped on their own, they go back to the system as they are freed.
/// Call first, before threads.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets glibc tunables; M_ARENA_MAX takes any positive
    // count and M_MMAP_THRESHOLD any size up to 32 MiB.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
