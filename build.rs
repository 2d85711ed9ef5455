//! Embeds the built-in case files (every `.toml` under data/ks, data/qg and data/files) so
//! that `medida run ks-case01` works from any installed binary or Python wheel.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut found = Vec::new();
    for folder in ["ks", "qg", "files"] {
        let dir = root.join(folder);
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                println!("cargo:rerun-if-changed={}", path.display());
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                found.push((
                    stem,
                    format!("{folder}/{}", entry.file_name().to_string_lossy()),
                ));
            }
        }
    }
    found.sort();
    let mut out = String::from("/// (name, path under data/, text) of every built-in case.\n");
    out.push_str("pub static BUILTIN: &[(&str, &str, &str)] = &[\n");
    for (stem, rel) in &found {
        let full = root.join(rel);
        writeln!(
            out,
            "    ({stem:?}, {rel:?}, include_str!({:?})),",
            full.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_cases.rs");
    std::fs::write(dest, out).unwrap();
}
