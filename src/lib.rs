pub use medida_solvers as solvers;
