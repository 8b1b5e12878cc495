include!("../build-support/commit.rs");

fn main() {
    emit_commit();
    tauri_build::try_build(tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*")).expect("tauri build step failed");
}
