//! A small fully connected network y(v) for fields on a plane, trained full-batch with Adam
//! (AMSGrad, as the authors) on squared error: tanh hidden layers and a linear output,
//! optionally behind a random-Fourier-feature first layer [cos 2πB·v, sin 2πB·v],
//! B ~ N(0, σ²) (Tancik et al. 2020), the fix the JAMES 2023 paper found for the spectral bias
//! of a plain network. Inputs are coordinates scaled to [−π, π).

use crate::error::{MedidaError, Result};
use crate::random::{stream, Purpose};
use ndarray::{Array1, Array2, Axis};
use rand_distr::{Distribution, Normal};
use std::f64::consts::PI;

#[derive(Clone, Debug, PartialEq)]
pub struct MlpSettings {
    pub width: usize,
    pub layers: usize,
    /// Number of Fourier frequencies of the first layer (0 = a plain network on v).
    pub fourier_features: usize,
    pub sigma: f64,
    pub epochs: usize,
    pub learning_rate: f64,
}

impl Default for MlpSettings {
    fn default() -> Self {
        MlpSettings {
            width: 64,
            layers: 3,
            fourier_features: 0,
            sigma: 1.0,
            epochs: 2000,
            learning_rate: 1e-2,
        }
    }
}

impl MlpSettings {
    pub fn label(&self) -> String {
        if self.fourier_features > 0 {
            format!(
                "mlp-rff ({} × {}, {} features σ = {}, {} epochs)",
                self.layers, self.width, self.fourier_features, self.sigma, self.epochs
            )
        } else {
            format!(
                "mlp ({} × {}, {} epochs)",
                self.layers, self.width, self.epochs
            )
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(MedidaError::Config(format!("interpolation: {why}")));
        if self.width == 0 || self.layers == 0 || self.epochs == 0 {
            return bad(format!(
                "width {}, layers {}, epochs {}: all must be positive",
                self.width, self.layers, self.epochs
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning_rate = {}: must be positive",
                self.learning_rate
            ));
        }
        if self.fourier_features > 0 && !(self.sigma.is_finite() && self.sigma > 0.0) {
            return bad(format!("sigma = {}: must be positive", self.sigma));
        }
        Ok(())
    }
}

struct Layer {
    weights: Array2<f64>,
    bias: Array1<f64>,
}

/// Adam moments of one layer (AMSGrad keeps the running maximum of the second moment).
struct Moments {
    m_w: Array2<f64>,
    v_w: Array2<f64>,
    m_b: Array1<f64>,
    v_b: Array1<f64>,
}

pub struct Mlp {
    settings: MlpSettings,
    /// 2πB, one row per frequency.
    frequencies: Array2<f64>,
    layers: Vec<Layer>,
    /// Target standardisation.
    mean: f64,
    scale: f64,
}

impl Mlp {
    /// A network with weights drawn from the stream (seed, interpolator, field).
    pub fn new(settings: &MlpSettings, seed: u64, field: u64) -> Result<Self> {
        settings.validate()?;
        let mut rng = stream(seed, 0, field, Purpose::Interpolator);
        let features = settings.fourier_features;
        let frequencies = if features > 0 {
            let normal = Normal::new(0.0, settings.sigma).expect("sigma checked");
            Array2::from_shape_fn((features, 2), |_| 2.0 * PI * normal.sample(&mut rng))
        } else {
            Array2::zeros((0, 2))
        };
        let input = if features > 0 { 2 * features } else { 2 };
        let mut sizes = vec![input];
        sizes.extend(std::iter::repeat_n(settings.width, settings.layers));
        sizes.push(1);
        // Glorot-normal weights, zero biases.
        let layers = sizes
            .windows(2)
            .map(|w| {
                let normal = Normal::new(0.0, (2.0 / (w[0] + w[1]) as f64).sqrt()).unwrap();
                Layer {
                    weights: Array2::from_shape_fn((w[0], w[1]), |_| normal.sample(&mut rng)),
                    bias: Array1::zeros(w[1]),
                }
            })
            .collect();
        Ok(Mlp {
            settings: settings.clone(),
            frequencies,
            layers,
            mean: 0.0,
            scale: 1.0,
        })
    }

    fn encode(&self, inputs: &[[f64; 2]]) -> Array2<f64> {
        let v = Array2::from_shape_fn((inputs.len(), 2), |(r, c)| inputs[r][c]);
        if self.frequencies.nrows() == 0 {
            return v;
        }
        let phase = v.dot(&self.frequencies.t());
        let f = self.frequencies.nrows();
        let mut z = Array2::zeros((inputs.len(), 2 * f));
        z.slice_mut(ndarray::s![.., ..f])
            .assign(&phase.mapv(f64::cos));
        z.slice_mut(ndarray::s![.., f..])
            .assign(&phase.mapv(f64::sin));
        z
    }

    /// Activations of every layer (the first is the encoded input, the last the output).
    fn forward(&self, z: Array2<f64>) -> Vec<Array2<f64>> {
        let mut activations = vec![z];
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut a = activations[i].dot(&layer.weights) + &layer.bias;
            if i < last {
                a.mapv_inplace(f64::tanh);
            }
            activations.push(a);
        }
        activations
    }

    /// Full-batch AMSGrad on the mean squared error of the standardised targets. Returns the
    /// final mean squared error (in the targets' units²); a non-finite loss is an error.
    pub fn train(&mut self, inputs: &[[f64; 2]], targets: &[f64]) -> Result<f64> {
        let n = targets.len();
        if n == 0 || inputs.len() != n {
            return Err(MedidaError::Data(format!(
                "{} inputs for {n} targets",
                inputs.len()
            )));
        }
        self.mean = targets.iter().sum::<f64>() / n as f64;
        let variance = targets.iter().map(|t| (t - self.mean).powi(2)).sum::<f64>() / n as f64;
        self.scale = if variance > 0.0 { variance.sqrt() } else { 1.0 };
        let t = Array2::from_shape_fn((n, 1), |(r, _)| (targets[r] - self.mean) / self.scale);
        let z = self.encode(inputs);
        let (beta1, beta2, epsilon) = (0.9f64, 0.999f64, 1e-8);
        let mut moments: Vec<Moments> = self
            .layers
            .iter()
            .map(|l| Moments {
                m_w: Array2::zeros(l.weights.raw_dim()),
                v_w: Array2::zeros(l.weights.raw_dim()),
                m_b: Array1::zeros(l.bias.len()),
                v_b: Array1::zeros(l.bias.len()),
            })
            .collect();
        let lr = self.settings.learning_rate;
        for epoch in 1..=self.settings.epochs {
            let activations = self.forward(z.clone());
            let out = activations.last().expect("output layer");
            let residual = out - &t;
            let loss = residual.iter().map(|r| r * r).sum::<f64>() / n as f64;
            if !loss.is_finite() {
                return Err(MedidaError::Data(format!(
                    "the network diverged at epoch {epoch} (loss {loss}): lower interpolation.learning_rate"
                )));
            }
            let mut delta = residual * (2.0 / n as f64);
            let correction1 = 1.0 - beta1.powi(epoch as i32);
            let correction2 = 1.0 - beta2.powi(epoch as i32);
            for i in (0..self.layers.len()).rev() {
                let grad_w = activations[i].t().dot(&delta);
                let grad_b = delta.sum_axis(Axis(0));
                if i > 0 {
                    let back = delta.dot(&self.layers[i].weights.t());
                    delta = back * activations[i].mapv(|a| 1.0 - a * a);
                }
                let m = &mut moments[i];
                let layer = &mut self.layers[i];
                adam(
                    layer.weights.as_slice_mut().expect("standard layout"),
                    grad_w
                        .as_standard_layout()
                        .as_slice()
                        .expect("standard layout"),
                    m.m_w.as_slice_mut().expect("standard layout"),
                    m.v_w.as_slice_mut().expect("standard layout"),
                    (lr, beta1, beta2, epsilon, correction1, correction2),
                );
                adam(
                    layer.bias.as_slice_mut().expect("contiguous"),
                    grad_b.as_slice().expect("contiguous"),
                    m.m_b.as_slice_mut().expect("contiguous"),
                    m.v_b.as_slice_mut().expect("contiguous"),
                    (lr, beta1, beta2, epsilon, correction1, correction2),
                );
            }
        }
        let activations = self.forward(z);
        let out = activations.last().expect("output layer");
        let loss = (out - &t).iter().map(|r| r * r).sum::<f64>() / n as f64;
        if !loss.is_finite() {
            return Err(MedidaError::Data(format!(
                "the network diverged (final loss {loss}): lower interpolation.learning_rate"
            )));
        }
        Ok(loss * self.scale * self.scale)
    }

    /// The network's values at the given (scaled) coordinates.
    pub fn predict(&self, inputs: &[[f64; 2]]) -> Vec<f64> {
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(4096) {
            let activations = self.forward(self.encode(chunk));
            let y = activations.last().expect("output layer");
            out.extend(y.iter().map(|v| v * self.scale + self.mean));
        }
        out
    }
}

/// One AMSGrad update of a parameter block.
fn adam(
    parameters: &mut [f64],
    gradient: &[f64],
    first: &mut [f64],
    second: &mut [f64],
    (lr, beta1, beta2, epsilon, correction1, correction2): (f64, f64, f64, f64, f64, f64),
) {
    for ((p, g), (m, v)) in parameters
        .iter_mut()
        .zip(gradient)
        .zip(first.iter_mut().zip(second.iter_mut()))
    {
        *m = beta1 * *m + (1.0 - beta1) * g;
        *v = (beta2 * *v + (1.0 - beta2) * g * g).max(*v);
        let m_hat = *m / correction1;
        let v_hat = *v / correction2;
        *p -= lr * m_hat / (v_hat.sqrt() + epsilon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_learns_a_smooth_function() {
        let inputs: Vec<[f64; 2]> = (0..200)
            .map(|i| {
                let a = -PI + 2.0 * PI * (i % 20) as f64 / 20.0;
                let b = -PI + 2.0 * PI * (i / 20) as f64 / 10.0;
                [a, b]
            })
            .collect();
        let targets: Vec<f64> = inputs
            .iter()
            .map(|v| v[0].sin() + 0.5 * v[1].cos())
            .collect();
        let settings = MlpSettings {
            width: 16,
            layers: 2,
            epochs: 1500,
            ..MlpSettings::default()
        };
        let mut net = Mlp::new(&settings, 1, 0).unwrap();
        let variance = targets.iter().map(|t| t * t).sum::<f64>() / targets.len() as f64;
        let mse = net.train(&inputs, &targets).unwrap();
        assert!(mse < 1e-3 * variance, "mse {mse} vs variance {variance}");
        let predicted = net.predict(&inputs);
        let rms = (predicted
            .iter()
            .zip(&targets)
            .map(|(p, t)| (p - t).powi(2))
            .sum::<f64>()
            / targets.len() as f64)
            .sqrt();
        assert!((rms * rms - mse).abs() < 1e-9, "{rms} vs {mse}");
    }

    #[test]
    fn a_divergent_learning_rate_is_an_error() {
        let inputs = vec![[0.0, 0.0], [1.0, 1.0], [2.0, -1.0]];
        let settings = MlpSettings {
            learning_rate: 1e300,
            epochs: 50,
            width: 4,
            layers: 1,
            ..MlpSettings::default()
        };
        let mut net = Mlp::new(&settings, 1, 0).unwrap();
        let err = net.train(&inputs, &[1.0, -1.0, 2.0]).unwrap_err();
        assert!(err.to_string().contains("diverged"), "{err}");
    }
}
