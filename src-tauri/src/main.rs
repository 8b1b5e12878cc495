// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Answered before anything starts (no window, no engine, no second instance).
    if std::env::args().skip(1).any(|a| a == "--version" || a == "-V") {
        println!("{}", powerdeck_app::version_line());
        return;
    }
    powerdeck_app::run();
}
