//! Figures in PNG and SVG. Text uses the DejaVu Sans font bundled in the binary, so plots
//! render on machines without system fonts.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            // The bundled file is a valid TTF; a failure here would be a build defect.
            plotters::style::register_font(FAMILY, style, FONT)
                .unwrap_or_else(|_| panic!("bundled font could not be parsed"));
        }
    });
}

/// Error of a plot: which file, and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("could not draw `{path}`: {reason}")]
pub struct PlotError {
    pub path: String,
    pub reason: String,
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

pub type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

/// Draws a figure as `<stem>.png` and `<stem>.svg` in `directory`; returns both paths.
pub fn save_figure(
    directory: &Path,
    stem: &str,
    figure: &impl Figure,
) -> Result<Vec<PathBuf>, PlotError> {
    register_font();
    std::fs::create_dir_all(directory).map_err(|e| plot_error(directory, e))?;
    let png = directory.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(&png, e))?;
        figure.draw(&root).map_err(|e| plot_error(&png, e))?;
        root.present().map_err(|e| plot_error(&png, e))?;
    }
    let svg = directory.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(&svg, e))?;
        figure.draw(&root).map_err(|e| plot_error(&svg, e))?;
        root.present().map_err(|e| plot_error(&svg, e))?;
    }
    Ok(vec![png, svg])
}

/// Diverging blue–white–red colour for a value in [-1, 1].
fn diverging(value: f64) -> RGBColor {
    let v = value.clamp(-1.0, 1.0);
    let (r, g, b) = if v < 0.0 {
        let t = -v;
        (1.0 - t * 0.8, 1.0 - t * 0.7, 1.0)
    } else {
        (1.0, 1.0 - v * 0.75, 1.0 - v * 0.85)
    };
    RGBColor((r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8)
}

/// Space–time diagram of a 1-D field: rows of `field` are times, columns grid points.
pub struct SpaceTime<'a> {
    pub title: String,
    pub x: &'a [f64],
    pub times: &'a [f64],
    pub field: &'a ndarray::Array2<f64>,
}

impl Figure for SpaceTime<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 700)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let (x, times) = (self.x, self.times);
        let scale = self
            .field
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(1e-300);
        let dx = x[1] - x[0];
        let dt = if times.len() > 1 {
            (times[times.len() - 1] - times[0]) / (times.len() - 1) as f64
        } else {
            1.0
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(
                x[0]..x[x.len() - 1] + dx,
                times[0]..times[times.len() - 1] + dt,
            )?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x")
            .y_desc("t")
            .label_style((FAMILY, 14))
            .draw()?;
        for (i, row) in self.field.outer_iter().enumerate() {
            let t = times[i];
            chart.draw_series(row.iter().enumerate().map(|(j, &v)| {
                Rectangle::new(
                    [(x[j], t), (x[j] + dx, t + dt)],
                    diverging(v / scale).filled(),
                )
            }))?;
        }
        Ok(())
    }
}
