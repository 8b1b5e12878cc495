// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Answered before anything starts (no window, no engine, no second instance).
    if std::env::args().skip(1).any(|a| a == "--version" || a == "-V") {
        println!("powerdeck {} ({})", env!("CARGO_PKG_VERSION"), option_env!("POWERDECK_COMMIT").unwrap_or("unknown commit"));
        return;
    }
    powerdeck_app::run();
}
