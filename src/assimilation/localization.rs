//! Distance-based localization on periodic grids: Gaspari–Cohn (1999, eq. 4.10) tapering of
//! the observation precision in the LETKF. The radius follows DAPPER's convention: the taper
//! is ≈ 0.63 at distance = radius (half-width 1.82·radius, zero beyond 3.64·radius).

/// Where state entries sit. A state may hold several layers of the same grid: entry i sits at
/// grid point i mod (points of the grid).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Geometry {
    /// A ring of `points` points, distances in grid spacings.
    Periodic1d { points: usize },
    /// An `nx` × `ny` doubly periodic grid stored row by row (x fastest).
    Periodic2d { nx: usize, ny: usize },
}

/// DAPPER's factor from radius to the Gaspari–Cohn half-width (√(10/3)).
pub const GASPARI_COHN_WIDTH: f64 = 1.82;

/// Below this taper an observation is left out of a local analysis (DAPPER's cut-off).
pub const TAPER_CUTOFF: f64 = 1e-3;

impl Geometry {
    /// Grid points per layer.
    pub fn points(&self) -> usize {
        match *self {
            Geometry::Periodic1d { points } => points,
            Geometry::Periodic2d { nx, ny } => nx * ny,
        }
    }

    /// Grid points within `reach` grid spacings of grid point `p` in every coordinate (a
    /// superset of the disc of that radius), each once.
    pub fn around(&self, p: usize, reach: f64) -> Vec<usize> {
        let offsets = |n: usize| -> Vec<isize> {
            let r = reach.floor().max(0.0) as usize;
            if 2 * r + 1 >= n {
                (0..n as isize).collect()
            } else {
                (-(r as isize)..=r as isize).collect()
            }
        };
        let wrap = |x: isize, n: usize| x.rem_euclid(n as isize) as usize;
        match *self {
            Geometry::Periodic1d { points } => {
                let c = (p % points) as isize;
                let full = 2 * (reach.floor().max(0.0) as usize) + 1 >= points;
                offsets(points)
                    .into_iter()
                    .map(|d| {
                        if full {
                            d as usize
                        } else {
                            wrap(c + d, points)
                        }
                    })
                    .collect()
            }
            Geometry::Periodic2d { nx, ny } => {
                let p = p % (nx * ny);
                let (cx, cy) = ((p % nx) as isize, (p / nx) as isize);
                let (full_x, full_y) = (
                    2 * (reach.floor().max(0.0) as usize) + 1 >= nx,
                    2 * (reach.floor().max(0.0) as usize) + 1 >= ny,
                );
                let xs: Vec<usize> = offsets(nx)
                    .into_iter()
                    .map(|d| if full_x { d as usize } else { wrap(cx + d, nx) })
                    .collect();
                offsets(ny)
                    .into_iter()
                    .map(|d| if full_y { d as usize } else { wrap(cy + d, ny) })
                    .flat_map(|y| xs.iter().map(move |&x| y * nx + x))
                    .collect()
            }
        }
    }

    /// Periodic distance between the grid points of state entries `a` and `b`.
    pub fn distance(&self, a: usize, b: usize) -> f64 {
        let periodic = |x: usize, y: usize, n: usize| {
            let d = x.abs_diff(y);
            d.min(n - d) as f64
        };
        match *self {
            Geometry::Periodic1d { points } => periodic(a % points, b % points, points),
            Geometry::Periodic2d { nx, ny } => {
                let (a, b) = (a % (nx * ny), b % (nx * ny));
                let dx = periodic(a % nx, b % nx, nx);
                let dy = periodic(a / nx, b / nx, ny);
                dx.hypot(dy)
            }
        }
    }
}

/// Gaspari–Cohn fifth-order piecewise rational taper of r = distance / half-width: 1 at 0,
/// compactly supported on r < 2.
pub fn gaspari_cohn(r: f64) -> f64 {
    let r = r.abs();
    if r <= 1.0 {
        let (r2, r3) = (r * r, r * r * r);
        1.0 + r2 * (-r3 / 4.0 + r2 / 2.0) + r3 * (5.0 / 8.0) - r2 * (5.0 / 3.0)
    } else if r < 2.0 {
        let (r2, r3) = (r * r, r * r * r);
        r2 * (r3 / 12.0 - r2 / 2.0) + r3 * (5.0 / 8.0) + r2 * (5.0 / 3.0) - 5.0 * r + 4.0
            - (2.0 / 3.0) / r
    } else {
        0.0
    }
}

/// The taper of an observation at `distance` for localization `radius`.
pub fn taper(distance: f64, radius: f64) -> f64 {
    gaspari_cohn(distance / (radius * GASPARI_COHN_WIDTH))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `around` holds every point within the reach, each once (brute force on small grids,
    /// reaches that wrap the grid included).
    #[test]
    fn around_covers_the_disc_of_its_reach() {
        for geometry in [
            Geometry::Periodic1d { points: 13 },
            Geometry::Periodic2d { nx: 9, ny: 6 },
            Geometry::Periodic2d { nx: 20, ny: 16 },
        ] {
            for reach in [0.5, 1.0, 2.7, 4.0, 30.0] {
                for p in 0..geometry.points() {
                    let mut got = geometry.around(p, reach);
                    let count = got.len();
                    got.sort_unstable();
                    got.dedup();
                    assert_eq!(got.len(), count, "{geometry:?} {reach}: duplicates");
                    for q in 0..geometry.points() {
                        if geometry.distance(p, q) <= reach {
                            assert!(got.contains(&q), "{geometry:?} {reach}: {p} misses {q}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gaspari_cohn_is_continuous_and_compact() {
        assert_eq!(gaspari_cohn(0.0), 1.0);
        // Both pieces meet at r = 1 (value 5/24·… = 0.2083…) and vanish at r = 2.
        let left = gaspari_cohn(1.0 - 1e-12);
        let right = gaspari_cohn(1.0 + 1e-12);
        assert!((left - right).abs() < 1e-9 && (left - 5.0 / 24.0).abs() < 1e-9);
        assert!(gaspari_cohn(2.0 - 1e-9).abs() < 1e-9);
        assert_eq!(gaspari_cohn(2.5), 0.0);
        // DAPPER's scaling: at distance = radius the taper is GC(1/1.82) = 0.63356 (their
        // comment says e^{-1/2} = 0.607; the value their code computes is this one).
        assert!((taper(4.0, 4.0) - 0.633_564_4).abs() < 1e-6);
    }

    #[test]
    fn periodic_distances_wrap() {
        let ring = Geometry::Periodic1d { points: 40 };
        assert_eq!(ring.distance(0, 39), 1.0);
        assert_eq!(ring.distance(3, 23), 20.0);
        assert_eq!(ring.distance(45, 0), 5.0); // second layer, same point as 5
        let plane = Geometry::Periodic2d { nx: 8, ny: 6 };
        assert_eq!(plane.distance(0, 7), 1.0);
        assert_eq!(plane.distance(0, 5 * 8), 1.0);
        assert!((plane.distance(0, 8 + 1) - 2f64.sqrt()).abs() < 1e-15);
    }
}
