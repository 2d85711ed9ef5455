//! The time loops allocate nothing: a counting allocator (this test binary's own) sees no
//! allocation on the stepping thread during runs of steps, after construction.

use medida_solvers::{medida_initial_state, Cnab2, Etdrk4, KsModel, KsParams, Rk4, Stepper};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Allocations made by this thread (const-initialised, so reading it allocates nothing).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn stepping_allocates_nothing() {
    // The flux-only standard KS (fused loops), a model with a pointwise term (general form),
    // and both dealiasing settings.
    let models = [
        KsParams::standard(100.0, 128),
        KsParams::from_names(
            100.0,
            96,
            [
                ("u_xx", -1.0),
                ("u_xxxx", -1.0),
                ("u*u_x", -1.0),
                ("u^2*u_xx", 0.01),
            ],
        )
        .unwrap(),
    ];
    for params in models {
        for dealias in [true, false] {
            let mut params = params.clone();
            params.dealias = dealias;
            let mut model = KsModel::new(params).unwrap();
            let u0 = medida_initial_state(&model.grid().coordinates(), 100.0);
            let mut v = model.to_spectral(&u0).unwrap();
            let mut steppers: Vec<(&str, Box<dyn Stepper>)> = vec![
                (
                    "ETDRK4",
                    Box::new(Etdrk4::new(model.clone(), 1e-3).unwrap()),
                ),
                ("CNAB2", Box::new(Cnab2::new(model.clone(), 1e-3).unwrap())),
                ("RK4", Box::new(Rk4::new(model.clone(), 1e-4).unwrap())),
            ];
            let rhs = model.params().rhs.len();
            for (name, stepper) in &mut steppers {
                let count = allocations_during(|| {
                    for _ in 0..50 {
                        stepper.step(&mut v);
                    }
                    stepper.advance(&mut v, 100, 0).unwrap();
                });
                assert_eq!(
                    count, 0,
                    "{name}, {rhs} terms, dealias {dealias}: {count} allocations in 150 steps"
                );
            }
        }
    }
}
