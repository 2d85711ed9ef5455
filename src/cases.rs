//! The built-in cases (the case files under data/ks, data/qg and data/files, embedded at
//! build time) and the one way every front end — the CLI, the Python module — turns a name
//! or a path into a [`Case`].

use crate::case::Case;
use crate::error::{MedidaError, Result};
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin_cases.rs"));

/// One built-in case.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// The file stem, e.g. `ks-case01`.
    pub name: &'static str,
    /// Its path under data/, e.g. `ks/ks-case01.toml`.
    pub path: &'static str,
    pub text: &'static str,
}

/// Every built-in case, by name.
pub fn builtin() -> impl Iterator<Item = Builtin> {
    BUILTIN
        .iter()
        .map(|&(name, path, text)| Builtin { name, path, text })
}

/// The folder that holds the observation files built-in cases refer to: `$MEDIDA_DATA` when
/// set, else the source tree's data/ this was built from.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("MEDIDA_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("data"),
    }
}

impl Builtin {
    /// The case, its observation file (if any) relative to its folder under [`data_dir`].
    pub fn case(&self) -> Result<Case> {
        let mut case = Case::from_toml(self.text)
            .map_err(|e| MedidaError::Config(format!("built-in case {}: {e}", self.name)))?;
        let folder = Path::new(self.path).parent().unwrap_or(Path::new(""));
        case.resolve_file(&data_dir().join(folder));
        Ok(case)
    }
}

/// A case file's path, or else a built-in case's name.
pub fn resolve(name: &str) -> Result<Case> {
    resolve_with_text(name).map(|(case, _)| case)
}

/// [`resolve`], with the case file's text as read.
pub fn resolve_with_text(name: &str) -> Result<(Case, String)> {
    let path = Path::new(name);
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| MedidaError::io(path, e))?;
        return Ok((Case::from_file_text(path, &text)?, text));
    }
    match builtin().find(|b| b.name == name) {
        Some(b) => Ok((b.case()?, b.text.to_string())),
        None if name.ends_with(".toml") => {
            Err(MedidaError::Config(format!("{name}: no such case file")))
        }
        None => Err(MedidaError::Config(format!(
            "`{name}` is neither a file nor a built-in case (see `medida cases`)"
        ))),
    }
}
