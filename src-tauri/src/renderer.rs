//! Which of WebKitGTK's renderers draws the window.
//!
//! Without a GPU render node (a VM, a container, a remote X or VNC session,
//! a CI machine), WebKitGTK's DMA-BUF renderer draws through Mesa's software
//! GL (llvmpipe): measured here, every frame that changes anything took about
//! 33 ms (a 100×100 box changing colour as much as a full scroll), and the
//! web process used about 100 MB more. Its shared-memory renderer keeps the
//! window at 60 frames a second there (BENCHMARKS.md). With a render node the
//! default stays; an explicit WEBKIT_DISABLE_DMABUF_RENDERER always wins.

const SETTING: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

fn has_render_node() -> bool {
    std::fs::read_dir("/dev/dri").map(|dir| dir.flatten().any(|e| e.file_name().to_string_lossy().starts_with("renderD"))).unwrap_or(false)
}

/// Call before anything starts WebKit (and before other threads exist).
pub fn choose() {
    if cfg!(target_os = "linux") && std::env::var_os(SETTING).is_none() && !has_render_node() {
        std::env::set_var(SETTING, "1");
        tracing::debug!("no GPU render node: WebKit draws with its shared-memory renderer");
    }
}
