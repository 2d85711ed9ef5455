//! Time steppers of the two-layer QG model, all with hyperviscosity applied implicitly
//! (q^{n+1} = (explicit update) / (1 + h ν D)) except RK4, which treats every term
//! explicitly (for one-step forecasts and convergence tests):
//! - leapfrog with a Robert–Asselin filter (the authors'), forward-Euler first step;
//! - AB3 (pyqg's), started with Euler and AB2;
//! - forward Euler (the authors' one-step forecasts);
//! - classical RK4.

use crate::error::{Result, SolverError};
use crate::ks::check_dt;
use crate::model::{check_steps, Model};
use crate::qg::{QgModel, QgTerm};
use crate::stepper::Stepper;
use num_complex::Complex64;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QgScheme {
    Leapfrog,
    Ab3,
    ForwardEuler,
    Rk4,
}

impl FromStr for QgScheme {
    type Err = SolverError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "leapfrog" => Ok(QgScheme::Leapfrog),
            "ab3" => Ok(QgScheme::Ab3),
            "euler" | "forward-euler" => Ok(QgScheme::ForwardEuler),
            "rk4" => Ok(QgScheme::Rk4),
            other => Err(SolverError::Parameter {
                name: "QG scheme",
                value: f64::NAN,
                reason: format!("unknown scheme `{other}`: use leapfrog, ab3, euler or rk4"),
            }),
        }
    }
}

/// Robert–Asselin filter coefficient of the authors' leapfrog.
pub const ROBERT_ASSELIN: f64 = 0.04;

#[derive(Clone)]
pub struct QgStepper {
    model: QgModel,
    dt: f64,
    scheme: QgScheme,
    steps_taken: usize,
    previous: Vec<Complex64>,
    tendencies: [Vec<Complex64>; 3],
    stage: Vec<Complex64>,
    k: [Vec<Complex64>; 4],
}

/// One mode's implicit hyperviscous step, (base + h f) / (1 + h ν D) with d = ν D: what every
/// scheme but RK4 ends its step with.
#[inline(always)]
fn damped(base: Complex64, f: Complex64, h: f64, d: f64) -> Complex64 {
    (base + h * f) / (1.0 + h * d)
}

impl QgStepper {
    pub fn new(model: QgModel, scheme: QgScheme, dt: f64) -> Result<Self> {
        let dt = check_dt(dt)?;
        let size = 2 * model.modes();
        let zero = vec![Complex64::new(0.0, 0.0); size];
        Ok(QgStepper {
            model,
            dt,
            scheme,
            steps_taken: 0,
            previous: zero.clone(),
            tendencies: std::array::from_fn(|_| zero.clone()),
            stage: zero.clone(),
            k: std::array::from_fn(|_| zero.clone()),
        })
    }

    pub fn model(&self) -> &QgModel {
        &self.model
    }
    pub fn model_mut(&mut self) -> &mut QgModel {
        &mut self.model
    }
    pub fn scheme(&self) -> QgScheme {
        self.scheme
    }

    /// Forgets the history of multi-step schemes (the next step starts them again).
    pub fn reset(&mut self) {
        self.steps_taken = 0;
    }

    /// out = (base + h f) / (1 + h ν D), layer by layer ([`damped`] per mode).
    #[inline(always)]
    fn implicit_update(
        &self,
        base: &[Complex64],
        tendency: &[Complex64],
        h: f64,
        out: &mut [Complex64],
    ) {
        let n = self.model.modes();
        let damping = &self.model.damping()[..n];
        for ((o, b), f) in out
            .chunks_exact_mut(n)
            .zip(base.chunks_exact(n))
            .zip(tendency.chunks_exact(n))
        {
            for (((o, b), f), d) in o.iter_mut().zip(b).zip(f).zip(damping) {
                *o = damped(*b, *f, h, *d);
            }
        }
    }

    /// q = (q + h f) / (1 + h ν D) in place ([`damped`] per mode).
    #[inline(always)]
    fn implicit_update_in_place(&self, q: &mut [Complex64], tendency: &[Complex64], h: f64) {
        let n = self.model.modes();
        let damping = &self.model.damping()[..n];
        for (q, f) in q.chunks_exact_mut(n).zip(tendency.chunks_exact(n)) {
            for ((q, f), d) in q.iter_mut().zip(f).zip(damping) {
                *q = damped(*q, *f, h, *d);
            }
        }
    }

    #[inline(always)]
    fn rk4_rhs(
        model: &mut QgModel,
        q: &[Complex64],
        out: &mut [Complex64],
        scratch: &mut [Complex64],
    ) {
        model.tendency(q, out);
        model.term(QgTerm::Hyperviscosity, q, scratch);
        for (o, s) in out.iter_mut().zip(scratch.iter()) {
            *o += s;
        }
    }
}

impl Stepper for QgStepper {
    fn dt(&self) -> f64 {
        self.dt
    }

    /// One step; the arithmetic around the FFTs is compiled for AVX2+FMA as well and chosen
    /// at run time.
    fn step(&mut self, q: &mut [Complex64]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            // SAFETY: AVX2 and FMA were detected on this CPU.
            return unsafe { self.step_avx2(q) };
        }
        self.step_portable(q)
    }
}

impl QgStepper {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step_avx2(&mut self, q: &mut [Complex64]) {
        self.step_portable(q)
    }

    #[inline(always)]
    fn step_portable(&mut self, q: &mut [Complex64]) {
        let h = self.dt;
        match self.scheme {
            QgScheme::ForwardEuler => {
                let mut f = std::mem::take(&mut self.tendencies[0]);
                self.model.tendency(q, &mut f);
                self.implicit_update_in_place(q, &f, h);
                self.tendencies[0] = f;
            }
            QgScheme::Leapfrog => {
                let mut f = std::mem::take(&mut self.tendencies[0]);
                self.model.tendency(q, &mut f);
                let mut next = std::mem::take(&mut self.stage);
                if self.steps_taken == 0 {
                    self.implicit_update(q, &f, h, &mut next);
                    self.previous.copy_from_slice(q);
                } else {
                    self.implicit_update(&self.previous, &f, 2.0 * h, &mut next);
                    // Robert–Asselin: the filtered q^n becomes the next q^{n−1}.
                    for ((p, c), n) in self.previous.iter_mut().zip(q.iter()).zip(&next) {
                        *p = c + ROBERT_ASSELIN * (*p - 2.0 * c + n);
                    }
                }
                q.copy_from_slice(&next);
                self.stage = next;
                self.tendencies[0] = f;
            }
            QgScheme::Ab3 => {
                self.tendencies.rotate_right(1);
                let mut f = std::mem::take(&mut self.tendencies[0]);
                self.model.tendency(q, &mut f);
                // The Adams–Bashforth combination and the implicit damping in one pass.
                let n = self.model.modes();
                let damping = &self.model.damping()[..n];
                let [_, older, oldest] = &self.tendencies;
                let steps = self.steps_taken;
                for (layer, q) in q.chunks_exact_mut(n).enumerate() {
                    let range = layer * n..(layer + 1) * n;
                    let (a, b, c) = (&f[range.clone()], &older[range.clone()], &oldest[range]);
                    for ((((q, a), b), c), d) in q.iter_mut().zip(a).zip(b).zip(c).zip(damping) {
                        let combined = match steps {
                            0 => *a,
                            1 => 1.5 * a - 0.5 * b,
                            _ => (23.0 * a - 16.0 * b + 5.0 * c) / 12.0,
                        };
                        *q = damped(*q, combined, h, *d);
                    }
                }
                self.tendencies[0] = f;
            }
            QgScheme::Rk4 => {
                let [k1, k2, k3, k4] = &mut self.k;
                let stage = &mut self.stage;
                let mut scratch = std::mem::take(&mut self.previous);
                Self::rk4_rhs(&mut self.model, q, k1, &mut scratch);
                for ((s, a), b) in stage.iter_mut().zip(q.iter()).zip(k1.iter()) {
                    *s = a + 0.5 * h * b;
                }
                Self::rk4_rhs(&mut self.model, stage, k2, &mut scratch);
                for ((s, a), b) in stage.iter_mut().zip(q.iter()).zip(k2.iter()) {
                    *s = a + 0.5 * h * b;
                }
                Self::rk4_rhs(&mut self.model, stage, k3, &mut scratch);
                for ((s, a), b) in stage.iter_mut().zip(q.iter()).zip(k3.iter()) {
                    *s = a + h * b;
                }
                Self::rk4_rhs(&mut self.model, stage, k4, &mut scratch);
                for j in 0..q.len() {
                    q[j] += h / 6.0 * (k1[j] + 2.0 * (k2[j] + k3[j]) + k4[j]);
                }
                self.previous = scratch;
            }
        }
        self.steps_taken += 1;
    }
}

/// The QG model as the filters see it: the physical PV anomalies [q1; q2], advanced `steps`
/// steps of a single-step scheme per observation interval.
#[derive(Clone)]
pub struct QgIntervalModel {
    prototype: QgStepper,
    steps: usize,
    /// The state is [ψ1; ψ2] on the grid instead of [q1; q2].
    streamfunction: bool,
}

pub struct QgWorkspace {
    stepper: QgStepper,
}

impl QgIntervalModel {
    /// Multi-step schemes need a history a filter cannot give them: use RK4 or Euler.
    pub fn new(model: QgModel, scheme: QgScheme, dt: f64, steps: usize) -> Result<Self> {
        check_steps(steps)?;
        if matches!(scheme, QgScheme::Leapfrog | QgScheme::Ab3) {
            return Err(SolverError::Parameter {
                name: "QG scheme",
                value: f64::NAN,
                reason: "an ensemble member restarts every interval: use rk4 or euler".into(),
            });
        }
        Ok(QgIntervalModel {
            prototype: QgStepper::new(model, scheme, dt)?,
            steps,
            streamfunction: false,
        })
    }

    /// States are the streamfunctions [ψ1; ψ2] on the grid (what sensors of a QG flow see):
    /// each advance inverts to PV, steps, and inverts back.
    pub fn on_streamfunction(mut self) -> Self {
        self.streamfunction = true;
        self
    }
}

impl Model for QgIntervalModel {
    type Workspace = QgWorkspace;

    fn state_size(&self) -> usize {
        2 * self.prototype.model().grid().points()
    }

    fn workspace(&self) -> QgWorkspace {
        QgWorkspace {
            stepper: self.prototype.clone(),
        }
    }

    fn advance(&self, state: &mut [f64], workspace: &mut QgWorkspace) -> Result<()> {
        let stepper = &mut workspace.stepper;
        let mut q = stepper.model_mut().to_spectral(state)?;
        if self.streamfunction {
            let psi = q.clone();
            stepper.model().potential_vorticity(&psi, &mut q);
        }
        stepper.reset();
        stepper.advance(&mut q, self.steps, 0)?;
        if self.streamfunction {
            let mut psi = q.clone();
            stepper.model().invert(&q, &mut psi);
            q = psi;
        }
        stepper.model_mut().to_physical(&q, state);
        crate::error::finite_forecast(state)
    }

    fn interval(&self) -> f64 {
        self.steps as f64 * self.prototype.dt()
    }
}
