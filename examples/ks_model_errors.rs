//! Three model errors a scientist might have, each discovered through the library API:
//! a model that lacks advection, one with the wrong hyper-diffusion, and one that adds a
//! spurious dispersion term u_xxx. Every case is a few lines of TOML (the same keys as a
//! case file), 1 % observation noise, 50 sample pairs.
//!
//!     cargo run --release --example ks_model_errors

use medida::{run, Case};

const CASES: [(&str, &str); 3] = [
    (
        "missing advection",
        r#"name = "missing-advection"
[model]
rhs = { "u_xx" = -1, "u_xxxx" = -1 }
dt = 2e-2"#,
    ),
    (
        "hyper-diffusion twice too weak",
        r#"name = "weak-hyperdiffusion"
[model]
rhs = { "u*u_x" = -1, "u_xx" = -1, "u_xxxx" = -0.5 }
dt = 2e-2"#,
    ),
    (
        "a dispersion term the real system does not have",
        r#"name = "spurious-dispersion"
[model]
rhs = { "u*u_x" = -1, "u_xx" = -1, "u_xxxx" = -1, "u_xxx" = 0.5 }
dt = 2e-2"#,
    ),
];

fn main() -> anyhow::Result<()> {
    for (story, toml) in CASES {
        // The truth is the standard KS (the [truth] defaults); 1 % noise, 50 pairs.
        let case = Case::from_toml(&format!(
            "{toml}\n[observations]\npairs = 50\nnoise = 0.01\n"
        ))?;
        let discovery = run(&case, &|_| {})?;
        let u = &discovery.components[0];
        println!("{story}:");
        println!("  discovered  {}", u.equation);
        let expected: Vec<String> = u
            .expected
            .iter()
            .map(|(term, c)| format!("{c:+.3} {term}"))
            .collect();
        println!("  expected    u_t error = {}\n", expected.join(" "));
    }
    Ok(())
}
