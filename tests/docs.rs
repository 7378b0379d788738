//! The README's and every stage crate's stage table are generated from the registry; this test
//! fails when one drifts (run with `UPDATE_DOCS=1` to rewrite them).

use std::path::Path;

use millstone::docs::{stage_table, with_table};

#[test]
fn stage_tables_match_the_registry() {
    let registry = millstone::builtin_registry();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    let mut targets = vec![(root.join("README.md"), None, "")];
    for group in ["ingest", "clean", "segment", "dedup", "export"] {
        targets.push((root.join(format!("crates/{group}/src/lib.rs")), Some(group), "//! "));
    }
    let mut covered = 0;
    for (path, group, prefix) in targets {
        let text = std::fs::read_to_string(&path).unwrap();
        let table = stage_table(&registry, group);
        covered += table.lines().count() - 2;
        let expected = with_table(&text, &table, prefix)
            .unwrap_or_else(|| panic!("{} has no stage table markers", path.display()));
        if update {
            std::fs::write(&path, &expected).unwrap();
        } else {
            assert!(
                text == expected,
                "the stage table of {} is stale; run UPDATE_DOCS=1 cargo test --test docs",
                path.display()
            );
        }
    }
    assert_eq!(covered, 2 * registry.names().len(), "every stage is in the README and in its crate's table");
}
