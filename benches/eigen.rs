//! Symmetric eigen-decompositions with eigenvectors, one thread: faer's against nalgebra's,
//! at the sizes the filters meet (LETKF local analyses: tens; ETKF: the member count). The
//! crossover chooses the library in `src/assimilation/dense.rs` (BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd;
use faer::{MatMut, MatRef, Par};
use nalgebra::DMatrix;

/// SᵀS of centred anomalies S (2m + 50 observations × m members): rank m − 1, as in a filter.
fn gram(m: usize) -> DMatrix<f64> {
    let p = 2 * m + 50;
    let mut s = DMatrix::from_fn(p, m, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0);
    for i in 0..p {
        let mean = s.row(i).mean();
        for j in 0..m {
            s[(i, j)] -= mean;
        }
    }
    s.transpose() * &s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("symmetric_eigen");
    group.sample_size(10);
    for m in [40, 100, 200, 400, 1000] {
        let g = gram(m);
        group.bench_with_input(BenchmarkId::new("faer", m), &m, |b, &n| {
            b.iter(|| {
                let params = Default::default();
                let mut values = faer::diag::Diag::<f64>::zeros(n);
                let mut vectors = DMatrix::<f64>::zeros(n, n);
                let mut memory = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
                    n,
                    evd::ComputeEigenvectors::Yes,
                    Par::Seq,
                    params,
                ));
                evd::self_adjoint_evd(
                    MatRef::from_column_major_slice(g.as_slice(), n, n),
                    values.as_mut(),
                    Some(MatMut::from_column_major_slice_mut(
                        vectors.as_mut_slice(),
                        n,
                        n,
                    )),
                    Par::Seq,
                    MemStack::new(&mut memory),
                    params,
                )
                .unwrap();
                vectors
            })
        });
        group.bench_with_input(BenchmarkId::new("nalgebra", m), &m, |b, _| {
            b.iter(|| nalgebra::linalg::SymmetricEigen::new(g.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
