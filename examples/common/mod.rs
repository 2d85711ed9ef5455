//! Command-line helpers the example programs share: `PROGRAM [OUT_DIR] [--name value ...]`.
#![allow(dead_code)] // each example uses the helpers it needs

use std::path::PathBuf;
use std::str::FromStr;

/// The arguments after the program name.
pub fn arguments() -> Vec<String> {
    std::env::args().skip(1).collect()
}

/// The first argument when it is not an option, else `default`.
pub fn out_dir(args: &[String], default: &str) -> PathBuf {
    args.first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| default.to_string())
        .into()
}

/// The value after `--name`, parsed; None when the option is absent.
pub fn option<T>(args: &[String], name: &str) -> anyhow::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    args.iter()
        .skip_while(|a| *a != name)
        .nth(1)
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| anyhow::anyhow!("{name} {v}: {e}"))
        })
        .transpose()
}

/// Like [`option`], but the option must be given.
pub fn required<T>(args: &[String], name: &str) -> anyhow::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    option(args, name)?.ok_or_else(|| anyhow::anyhow!("missing {name}"))
}
