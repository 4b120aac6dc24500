//! Helpers shared by the test modules.

use std::path::PathBuf;

use identity_core::SchemaRegistry;

/// `../shared/data` beside the project root (or `$IDENTITY_SHARED_DATA`).
pub(crate) fn shared_data() -> PathBuf {
    if let Ok(dir) = std::env::var("IDENTITY_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

pub(crate) fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A registry holding every schema of the shared data, by file stem.
pub(crate) fn shared_registry() -> SchemaRegistry {
    let mut registry = SchemaRegistry::new();
    let dir = shared_data().join("schemas");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        let id = name.strip_suffix(".schema.json").expect("schema file name");
        registry
            .register_file(id, &path)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    registry
}
