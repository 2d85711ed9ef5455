//! Where the sensors are: every grid point, every k-th point, or a random set drawn once from
//! the seed (the same points for every field and time of a run).

use crate::error::{MedidaError, Result};
use crate::random::{distinct_indices, stream, Purpose};

/// The observation operator's points (`observations.operator`, or `observations.fraction`).
#[derive(Clone, Debug, PartialEq)]
pub enum SensorLayout {
    Full,
    /// Every k-th grid point in storage order.
    Every(usize),
    /// n points drawn uniformly without replacement.
    Random(usize),
}

impl SensorLayout {
    /// True when some grid point of `grid_points` has no sensor.
    pub fn is_sparse(&self, grid_points: usize) -> bool {
        match *self {
            SensorLayout::Full => false,
            SensorLayout::Every(every) => every > 1,
            SensorLayout::Random(count) => count < grid_points,
        }
    }

    /// The observed grid points (None: every point).
    pub fn points(&self, grid_points: usize, seed: u64) -> Option<Vec<usize>> {
        match *self {
            SensorLayout::Every(every) if every > 1 => {
                Some((0..grid_points).step_by(every).collect())
            }
            SensorLayout::Random(count) if count < grid_points => {
                let mut rng = stream(seed, 0, 0, Purpose::SensorSet);
                Some(distinct_indices(&mut rng, grid_points, count))
            }
            _ => None,
        }
    }
}

/// `round(fraction · points)` distinct grid points drawn uniformly from the seed, sorted.
pub fn sensor_mask(points: usize, fraction: f64, seed: u64) -> Result<Vec<usize>> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(MedidaError::Config(format!(
            "sensor fraction {fraction}: must lie in (0, 1]"
        )));
    }
    let count = ((fraction * points as f64).round() as usize).clamp(1, points);
    Ok(SensorLayout::Random(count)
        .points(points, seed)
        .unwrap_or_else(|| (0..points).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_fractions_outside_the_unit_interval_are_errors() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let err = sensor_mask(100, bad, 1).unwrap_err();
            assert!(err.to_string().contains("(0, 1]"), "{err}");
        }
        let mask = sensor_mask(100, 0.25, 1).unwrap();
        assert_eq!(mask.len(), 25);
        assert!(mask.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_seed_draws_the_same_sensors_and_another_seed_others() {
        let a = SensorLayout::Random(64).points(1024, 7).unwrap();
        assert_eq!(a, SensorLayout::Random(64).points(1024, 7).unwrap());
        assert_ne!(a, SensorLayout::Random(64).points(1024, 8).unwrap());
        assert_eq!(
            SensorLayout::Every(4).points(16, 0).unwrap(),
            vec![0, 4, 8, 12]
        );
        assert_eq!(SensorLayout::Full.points(16, 0), None);
    }
}
