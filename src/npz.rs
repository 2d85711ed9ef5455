//! Reading user matrices from NumPy `.npz` files: float and integer arrays (as f64) and unicode-string
//! label arrays (`<U..`), which ndarray-npy does not read.

use crate::error::{MedidaError, Result};
use ndarray::{Array1, Array2, Ix1, Ix2};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::io::Read;
use std::path::Path;

fn open(path: &Path) -> Result<NpzReader<File>> {
    let file = File::open(path).map_err(|e| MedidaError::io(path, e))?;
    NpzReader::new(file).map_err(|e| MedidaError::io(path, e))
}

fn entry_name(name: &str) -> String {
    if name.ends_with(".npy") {
        name.to_string()
    } else {
        format!("{name}.npy")
    }
}

/// Names of the arrays in an `.npz` file.
pub fn array_names(path: &Path) -> Result<Vec<String>> {
    let mut npz = open(path)?;
    let names = npz.names().map_err(|e| MedidaError::io(path, e))?;
    Ok(names
        .into_iter()
        .map(|n| n.trim_end_matches(".npy").to_string())
        .collect())
}

fn missing(path: &Path, name: &str) -> MedidaError {
    let available = array_names(path).map(|n| n.join(", ")).unwrap_or_default();
    MedidaError::io(
        path,
        format!("no array named `{name}` (it has: {available})"),
    )
}

/// A 2-D float or integer array, as f64; a 1-D array becomes one column.
pub fn read_matrix(path: &Path, name: &str) -> Result<Array2<f64>> {
    let mut npz = open(path)?;
    let names = npz.names().map_err(|e| MedidaError::io(path, e))?;
    let entry = entry_name(name);
    if !names.contains(&entry) && !names.iter().any(|n| n == name) {
        return Err(missing(path, name));
    }
    let key = if names.contains(&entry) {
        entry
    } else {
        name.to_string()
    };
    macro_rules! as_f64 {
        ($($t:ty),*) => {
            $(
                if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<$t>, Ix2>(&key) {
                    return Ok(a.mapv(|v| v as f64));
                }
                if let Ok(a) = npz.by_name::<ndarray::OwnedRepr<$t>, Ix1>(&key) {
                    return Ok(a.mapv(|v| v as f64).insert_axis(ndarray::Axis(1)));
                }
            )*
        };
    }
    // Integers convert exactly up to 2^53, the range of any real measurement.
    as_f64!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);
    Err(MedidaError::io(
        path,
        format!("array `{name}` is not a 1-D or 2-D float or integer array"),
    ))
}

/// A 1-D float vector (an n × 1 matrix is accepted too).
pub fn read_vector(path: &Path, name: &str) -> Result<Array1<f64>> {
    let m = read_matrix(path, name)?;
    if m.ncols() != 1 {
        return Err(MedidaError::io(
            path,
            format!("array `{name}` has shape {:?}; expected a vector", m.dim()),
        ));
    }
    Ok(m.column(0).to_owned())
}

/// A 1-D NumPy unicode-string array (`<U..`, little-endian UCS-4).
pub fn read_labels(path: &Path, name: &str) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| MedidaError::io(path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| MedidaError::io(path, e))?;
    let mut bytes = Vec::new();
    {
        let entry = entry_name(name);
        let mut file = match archive.by_name(&entry) {
            Ok(f) => f,
            Err(_) => return Err(missing(path, name)),
        };
        file.read_to_end(&mut bytes)
            .map_err(|e| MedidaError::io(path, e))?;
    }
    parse_unicode_npy(&bytes)
        .map_err(|reason| MedidaError::io(path, format!("labels `{name}`: {reason}")))
}

fn parse_unicode_npy(bytes: &[u8]) -> std::result::Result<Vec<String>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy array".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header =
        std::str::from_utf8(&bytes[start..start + header_len]).map_err(|e| e.to_string())?;
    let descr = header
        .split("'descr':")
        .nth(1)
        .and_then(|s| s.split('\'').nth(1))
        .ok_or("header without descr")?;
    let width: usize = descr
        .strip_prefix("<U")
        .or_else(|| descr.strip_prefix("|U"))
        .ok_or(format!(
            "dtype {descr} is not a little-endian unicode string array"
        ))?
        .parse()
        .map_err(|_| format!("bad dtype {descr}"))?;
    let data = &bytes[start + header_len..];
    let count = data.len() / (4 * width);
    let mut labels = Vec::with_capacity(count);
    for k in 0..count {
        let chunk = &data[4 * width * k..4 * width * (k + 1)];
        let text: String = chunk
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .take_while(|&c| c != 0)
            .filter_map(char::from_u32)
            .collect();
        labels.push(text);
    }
    Ok(labels)
}
