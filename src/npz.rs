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

/// The header of one array of an `.npz` file: its shape and element type.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayInfo {
    pub shape: Vec<usize>,
    /// Bytes per element: 8 (float64) or 4 (float32).
    pub width: usize,
}

/// Opens one `.npy` entry of an `.npz` file for streaming: its header, then a reader at the
/// first element. Only little-endian float32/float64 in C order.
fn stream_entry<'a>(
    archive: &'a mut zip::ZipArchive<File>,
    path: &Path,
    name: &str,
) -> Result<(ArrayInfo, zip::read::ZipFile<'a, File>)> {
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let entry = entry_name(name);
    if !names.contains(&entry) {
        let available: Vec<String> = names
            .iter()
            .map(|n| n.trim_end_matches(".npy").to_string())
            .collect();
        return Err(MedidaError::io(
            path,
            format!("no array named `{name}` (it has: {})", available.join(", ")),
        ));
    }
    let mut file = archive
        .by_name(&entry)
        .map_err(|e| MedidaError::io(path, e))?;
    let bad = |why: String| MedidaError::io(path, format!("array `{name}`: {why}"));
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)
        .map_err(|_| bad("not an .npy array".into()))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy array".into()));
    }
    let header_len = if magic[6] == 1 {
        let mut b = [0u8; 2];
        file.read_exact(&mut b).map_err(|e| bad(e.to_string()))?;
        u16::from_le_bytes(b) as usize
    } else {
        let mut b = [0u8; 4];
        file.read_exact(&mut b).map_err(|e| bad(e.to_string()))?;
        u32::from_le_bytes(b) as usize
    };
    let mut header = vec![0u8; header_len];
    file.read_exact(&mut header)
        .map_err(|e| bad(e.to_string()))?;
    let header = String::from_utf8_lossy(&header).to_string();
    let value = |key: &str| -> Option<String> {
        let rest = header.split(&format!("'{key}':")).nth(1)?.trim_start();
        Some(rest.to_string())
    };
    let descr = value("descr")
        .and_then(|r| r.split('\'').nth(1).map(str::to_string))
        .ok_or_else(|| bad("header without a dtype".into()))?;
    let width = match descr.as_str() {
        "<f8" => 8,
        "<f4" => 4,
        other => {
            return Err(bad(format!(
                "dtype {other}: observations must be little-endian float32 or float64"
            )))
        }
    };
    if value("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err(bad(
            "stored in Fortran order; save it C-ordered (numpy.ascontiguousarray)".into(),
        ));
    }
    let shape_text = value("shape")
        .and_then(|r| {
            let inner = r.strip_prefix('(')?;
            Some(inner[..inner.find(')')?].to_string())
        })
        .ok_or_else(|| bad("header without a shape".into()))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("bad shape ({shape_text})")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((ArrayInfo { shape, width }, file))
}

/// The shape and element width of an array, reading nothing but its header.
pub fn array_info(path: &Path, name: &str) -> Result<ArrayInfo> {
    let file = File::open(path).map_err(|e| MedidaError::io(path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| MedidaError::io(path, e))?;
    let info = stream_entry(&mut archive, path, name)?.0;
    Ok(info)
}

/// The rows `wanted` (sorted, along the first axis) of a float array, as f64, streamed: the
/// other rows are read past and never held.
pub fn read_rows(path: &Path, name: &str, wanted: &[usize]) -> Result<(ArrayInfo, Vec<Vec<f64>>)> {
    let file = File::open(path).map_err(|e| MedidaError::io(path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| MedidaError::io(path, e))?;
    let (info, mut reader) = stream_entry(&mut archive, path, name)?;
    let rows = info.shape.first().copied().unwrap_or(1);
    let row: usize = info.shape.iter().skip(1).product();
    let mut bytes = vec![0u8; row * info.width];
    let mut out = Vec::with_capacity(wanted.len());
    let mut next = wanted.iter().peekable();
    for r in 0..rows {
        let Some(&&want) = next.peek() else { break };
        reader.read_exact(&mut bytes).map_err(|e| {
            MedidaError::io(path, format!("array `{name}`: truncated at row {r}: {e}"))
        })?;
        if r != want {
            continue;
        }
        next.next();
        let values = if info.width == 8 {
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect()
        } else {
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                .collect()
        };
        out.push(values);
    }
    if out.len() != wanted.len() {
        return Err(MedidaError::io(
            path,
            format!(
                "array `{name}`: asked for row {} of {rows}",
                wanted[out.len()]
            ),
        ));
    }
    Ok((info, out))
}
