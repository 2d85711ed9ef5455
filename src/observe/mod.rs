//! Observing a system: where the sensors are, observation files, and fitting whole fields through them
//! (1-D spectral least squares; 2-D Fourier least squares, random-feature ridge, networks).

pub mod file;
pub mod fourier_2d;
pub mod mlp;
pub mod sensors;
pub mod spectral_1d;
