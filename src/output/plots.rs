//! Figures in PNG and SVG. Text uses the DejaVu Sans font bundled in the binary, so plots
//! render on machines without system fonts.

use crate::pipeline::discovery::{Discovery, Sample};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
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

pub use crate::error::PlotError;

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
    /// What the colours show, with its units, for the colour bar.
    pub quantity: String,
    pub x: &'a [f64],
    pub times: &'a [f64],
    pub field: &'a ndarray::Array2<f64>,
}

/// A 2-D field f(x, y) on a regular grid (rows: y), diverging colours about zero.
pub struct Field2d<'a> {
    pub title: String,
    /// What the colours show, with its units, for the colour bar.
    pub quantity: String,
    pub x: &'a [f64],
    pub y: &'a [f64],
    pub field: &'a ndarray::Array2<f64>,
}

impl Figure for Field2d<'_> {
    fn size(&self) -> (u32, u32) {
        let aspect =
            (self.y[self.y.len() - 1] - self.y[0]) / (self.x[self.x.len() - 1] - self.x[0]);
        (
            560 + COLOUR_BAR_WIDTH,
            (420.0 * aspect).clamp(300.0, 1000.0) as u32,
        )
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        SpaceTime {
            title: self.title.clone(),
            quantity: self.quantity.clone(),
            x: self.x,
            times: self.y,
            field: self.field,
        }
        .draw_with_labels(root, "y")
    }
}

impl Figure for SpaceTime<'_> {
    fn size(&self) -> (u32, u32) {
        (900 + COLOUR_BAR_WIDTH, 700)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        self.draw_with_labels(root, "t")
    }
}

impl SpaceTime<'_> {
    fn draw_with_labels<DB>(&self, root: &DrawingArea<DB, Shift>, y_label: &str) -> DrawResult
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
        let width = root.dim_in_pixel().0 as i32;
        let (root, bar) = root.split_horizontally(width - COLOUR_BAR_WIDTH as i32);
        colour_bar(&bar, &self.quantity, scale)?;
        let mut chart = ChartBuilder::on(&root)
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
            .y_desc(y_label)
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

/// Width in pixels of the colour bar beside every map.
const COLOUR_BAR_WIDTH: u32 = 150;

/// The diverging colour scale from −scale to +scale, labelled with its quantity.
fn colour_bar<DB>(area: &DrawingArea<DB, Shift>, quantity: &str, scale: f64) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut bar = ChartBuilder::on(area)
        .margin_top(46)
        .margin_bottom(52)
        .margin_right(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, -scale..scale)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(quantity)
        .y_labels(7)
        .y_label_formatter(&|v| tick(*v))
        .label_style((FAMILY, 13))
        .draw()?;
    let steps = 120;
    let step = 2.0 * scale / steps as f64;
    bar.draw_series((0..steps).map(|k| {
        let low = -scale + k as f64 * step;
        Rectangle::new(
            [(0.0, low), (1.0, low + step)],
            diverging((low + 0.5 * step) / scale).filled(),
        )
    }))?;
    Ok(())
}

/// A linear axis label: plain with up to 4 significant decimals, scientific when tiny or huge.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        // Round-off of a tick meant to sit at zero.
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    }
}

/// Lines y(x) with a legend; log-scale y optional.
pub struct Lines<'a> {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<(String, &'a [f64], &'a [f64])>,
    pub log_y: bool,
}

impl Figure for Lines<'_> {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let finite = |v: &f64| v.is_finite() && (!self.log_y || *v > 0.0);
        let xs = self.series.iter().flat_map(|s| s.1.iter().copied());
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.2.iter().copied())
            .filter(finite);
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (y0, y1) = if y0 < y1 {
            (y0, y1)
        } else {
            (y0 - 1.0, y0 + 1.0)
        };
        let colors = [
            RGBColor(0, 0, 0),
            RGBColor(31, 119, 180),
            RGBColor(214, 39, 40),
            RGBColor(44, 160, 44),
            RGBColor(148, 103, 189),
            RGBColor(255, 127, 14),
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
        ];
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                let log_y = self.log_y;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .y_label_formatter(&|v: &f64| {
                        if log_y {
                            format!("{v:.0e}")
                        } else {
                            tick(*v)
                        }
                    })
                    .label_style((FAMILY, 13))
                    .draw()?;
                for (i, (name, x, y)) in self.series.iter().enumerate() {
                    let color = colors[i % colors.len()];
                    chart
                        .draw_series(LineSeries::new(
                            x.iter()
                                .zip(y.iter())
                                .filter(|(_, y)| finite(y))
                                .map(|(a, b)| (*a, *b)),
                            color.stroke_width(2),
                        ))?
                        .label(name.as_str())
                        .legend(move |(px, py)| {
                            PathElement::new(vec![(px, py), (px + 20, py)], color.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .position(if log_y {
                        SeriesLabelPosition::LowerLeft
                    } else {
                        SeriesLabelPosition::UpperRight
                    })
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .label_font((FAMILY, 14))
                    .draw()?;
            }};
        }
        if self.log_y {
            body!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale())?);
        } else {
            let pad = 0.05 * (y1 - y0);
            body!(builder.build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?);
        }
        Ok(())
    }
}

/// Discovered vs expected coefficients, with ± one posterior standard deviation.
pub struct Coefficients {
    pub title: String,
    /// (term, expected, discovered, std)
    pub rows: Vec<(String, f64, f64, f64)>,
}

impl Figure for Coefficients {
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n = self.rows.len().max(1);
        let values = self
            .rows
            .iter()
            .flat_map(|r| [r.1, r.2 - r.3, r.2 + r.3, 0.0]);
        // Zero is always on the axis; a component with no terms at all gets the unit range
        // (an empty range would stall plotters' tick search).
        let (lo, hi) = values.fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if hi - lo > 0.0 { (lo, hi) } else { (-1.0, 1.0) };
        let pad = 0.15 * (hi - lo);
        let names: Vec<String> = self.rows.iter().map(|r| r.0.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FAMILY, 20))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_label_formatter(&|v: &f64| tick(*v))
            .x_labels(n)
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_desc("coefficient")
            .label_style((FAMILY, 13))
            .draw()?;
        let blue = RGBColor(31, 119, 180);
        let red = RGBColor(214, 39, 40);
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                Rectangle::new(
                    [(i as f64 - 0.3, 0.0), (i as f64, r.1)],
                    blue.mix(0.6).filled(),
                )
            }))?
            .label("expected")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], blue.mix(0.6).filled())
            });
        chart
            .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                Rectangle::new(
                    [(i as f64, 0.0), (i as f64 + 0.3, r.2)],
                    red.mix(0.6).filled(),
                )
            }))?
            .label("discovered ± std")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], red.mix(0.6).filled())
            });
        chart.draw_series(self.rows.iter().enumerate().map(|(i, r)| {
            ErrorBar::new_vertical(
                i as f64 + 0.15,
                r.2 - r.3,
                r.2,
                r.2 + r.3,
                BLACK.stroke_width(2),
                8,
            )
        }))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FAMILY, 14))
            .draw()?;
        Ok(())
    }
}

/// The figures of one discovery, for every system: per component the discovered vs expected
/// coefficients and the threshold sweep (file names prefixed by the component when there are
/// several), the forecast error of imperfect and corrected models, and the system's sample
/// figures (1-D: truth at the sample times, increment and reconstruction; 2-D: per layer the
/// state, increment and reconstruction maps, and the sensor mask).
pub fn discovery_figures(dir: &Path, d: &Discovery) -> Result<Vec<PathBuf>, PlotError> {
    let mut written = Vec::new();
    let many = d.components.len() > 1;
    for c in &d.components {
        let prefix = if many {
            format!("{}_", c.name)
        } else {
            String::new()
        };
        let title = if many {
            format!("{} {}", d.name, c.name)
        } else {
            d.name.clone()
        };
        written.extend(save_figure(
            dir,
            &format!("{prefix}coefficients"),
            &Coefficients {
                title: format!("{title}: discovered vs expected error terms"),
                rows: coefficient_rows(&c.fit, &c.expected),
            },
        )?);
        written.extend(sweep_figures(
            dir,
            &prefix,
            &title,
            &c.sweep,
            c.prune_alpha,
        )?);
    }
    if let Some(skill) = &d.skill {
        written.extend(save_figure(
            dir,
            "forecast_error",
            &Lines {
                title: "relative forecast error against the truth".into(),
                x_label: "t (model time units)".into(),
                y_label: "‖x − x_truth‖ / ‖x_truth‖".into(),
                series: vec![
                    (
                        "imperfect model".into(),
                        &skill.times,
                        &skill.imperfect_error,
                    ),
                    (
                        "corrected model".into(),
                        &skill.times,
                        &skill.corrected_error,
                    ),
                ],
                log_y: true,
            },
        )?);
    }
    match &d.sample {
        Some(Sample::Line {
            x,
            sample_times,
            sample_states,
            increment,
            reconstruction,
        }) => {
            written.extend(save_figure(
                dir,
                "truth_samples",
                &SpaceTime {
                    title: format!("{}: truth at the sample times", d.name),
                    quantity: format!("{} (model units)", d.components[0].name),
                    x,
                    times: sample_times,
                    field: sample_states,
                },
            )?);
            let name = &d.components[0].name;
            written.extend(save_figure(
                dir,
                "increment",
                &Lines {
                    title:
                        "first sample: increment (analysis − forecast)/dt and its reconstruction"
                            .into(),
                    x_label: "x".into(),
                    y_label: format!("{name}_t error"),
                    series: vec![
                        ("increment".into(), x, increment),
                        ("discovered terms".into(), x, reconstruction),
                    ],
                    log_y: false,
                },
            )?);
        }
        Some(Sample::Maps {
            x,
            y,
            edge_cut,
            state_label,
            state,
            increment,
            reconstruction,
        }) => {
            let c = *edge_cut;
            let (xc, yc) = (&x[c..x.len() - c], &y[c..y.len() - c]);
            for (layer, field) in state.iter().enumerate() {
                let k = layer + 1;
                written.extend(save_figure(
                    dir,
                    &format!("layer{k}_state"),
                    &Field2d {
                        title: format!("{}: {state_label}{k} of the first sample", d.name),
                        quantity: format!("{state_label}{k}"),
                        x,
                        y,
                        field,
                    },
                )?);
            }
            for (component, (inc, rec)) in d
                .components
                .iter()
                .zip(increment.iter().zip(reconstruction))
            {
                let n = &component.name;
                written.extend(save_figure(
                    dir,
                    &format!("{n}_increment"),
                    &Field2d {
                        title: format!("{n}: increment (analysis − forecast)/Δt"),
                        quantity: format!("{n}_t error"),
                        x: xc,
                        y: yc,
                        field: inc,
                    },
                )?);
                written.extend(save_figure(
                    dir,
                    &format!("{n}_reconstruction"),
                    &Field2d {
                        title: format!("{n}: the discovered terms"),
                        quantity: format!("{n}_t error"),
                        x: xc,
                        y: yc,
                        field: rec,
                    },
                )?);
            }
            if let Some(sensors) = &d.sensors {
                written.extend(sensor_mask_figure(dir, x, y, sensors)?);
            }
        }
        None => {}
    }
    Ok(written)
}

/// (term, expected, discovered, std) for every expected or retained term.
fn coefficient_rows(
    fit: &crate::regression::rvm::RvmFit,
    expected: &[(String, f64)],
) -> Vec<(String, f64, f64, f64)> {
    let mut rows: Vec<(String, f64, f64, f64)> = expected
        .iter()
        .map(|(t, e)| {
            let i = fit.names.iter().position(|n| n == t);
            let (c, s) = i
                .map(|i| (fit.coefficients[i], fit.std[i]))
                .unwrap_or((0.0, 0.0));
            (t.clone(), *e, c, s)
        })
        .collect();
    for &i in &fit.retained {
        if !rows.iter().any(|r| r.0 == fit.names[i]) {
            rows.push((fit.names[i].clone(), 0.0, fit.coefficients[i], fit.std[i]));
        }
    }
    rows
}

/// The model-selection pictures of a threshold sweep: every term retained at any threshold,
/// its coefficient (0 when pruned) against log10(prune_alpha); the number of terms; and the
/// L-curve, normalised error against the number of terms. File names start with `prefix`.
fn sweep_figures(
    dir: &Path,
    prefix: &str,
    title: &str,
    sweep: &[crate::regression::sweep::SweepPoint],
    chosen: f64,
) -> Result<Vec<PathBuf>, PlotError> {
    let mut written = Vec::new();
    let Some(first) = sweep.first() else {
        return Ok(written);
    };
    let names_of = &first.fit.names;
    let log_alpha: Vec<f64> = sweep.iter().map(|p| p.prune_alpha.log10()).collect();
    let mut names: Vec<usize> = sweep
        .iter()
        .flat_map(|p| p.fit.retained.iter().copied())
        .collect();
    names.sort_unstable();
    names.dedup();
    let curves: Vec<(String, Vec<f64>)> = names
        .iter()
        .map(|&i| {
            let values = sweep
                .iter()
                .map(|p| {
                    if p.fit.retained.contains(&i) {
                        p.fit.coefficients[i]
                    } else {
                        0.0
                    }
                })
                .collect();
            (names_of[i].clone(), values)
        })
        .collect();
    written.extend(save_figure(
        dir,
        &format!("{prefix}sweep_coefficients"),
        &Lines {
            title: format!("{title}: coefficients against the pruning threshold"),
            x_label: "log10 prune_alpha".into(),
            y_label: "coefficient (0 = pruned)".into(),
            series: curves
                .iter()
                .map(|(name, values)| (name.clone(), log_alpha.as_slice(), values.as_slice()))
                .collect(),
            log_y: false,
        },
    )?);
    let terms: Vec<f64> = sweep.iter().map(|p| p.terms() as f64).collect();
    // The chosen model: a vertical mark at its threshold.
    let most = terms.iter().fold(0.0f64, |m, &t| m.max(t));
    let (mark_x, mark_y) = ([chosen.log10(); 2], [0.0, most.max(1.0)]);
    written.extend(save_figure(
        dir,
        &format!("{prefix}sweep_terms"),
        &Lines {
            title: format!("{title}: terms retained against the pruning threshold"),
            x_label: "log10 prune_alpha".into(),
            y_label: "terms".into(),
            series: vec![
                ("terms retained".into(), &log_alpha, &terms),
                (
                    format!("chosen: prune_alpha {chosen:.0e}"),
                    &mark_x,
                    &mark_y,
                ),
            ],
            log_y: false,
        },
    )?);
    let error: Vec<f64> = sweep.iter().map(|p| p.fit.normalised_error).collect();
    written.extend(save_figure(
        dir,
        &format!("{prefix}l_curve"),
        &Lines {
            title: format!("{title}: normalised error against terms (the L-curve)"),
            x_label: "terms".into(),
            y_label: "normalised error".into(),
            series: vec![("threshold sweep".into(), &terms, &error)],
            log_y: true,
        },
    )?);
    Ok(written)
}

/// The sensor mask on an ny × nx grid (red: a sensor).
pub fn sensor_mask_figure(
    dir: &Path,
    x: &[f64],
    y: &[f64],
    sensors: &[usize],
) -> Result<Vec<PathBuf>, PlotError> {
    let (nx, ny) = (x.len(), y.len());
    let mut mask = ndarray::Array2::from_elem((ny, nx), -1.0);
    for &p in sensors {
        mask[[p / nx, p % nx]] = 1.0;
    }
    save_figure(
        dir,
        "sensor_mask",
        &Field2d {
            title: format!("sensors (red): {} of {}", sensors.len(), nx * ny),
            quantity: "1 = sensor, −1 = none".into(),
            x,
            y,
            field: &mask,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component with nothing expected and nothing found (layer 1 of QG case 1006) draws an
    /// empty coefficient chart instead of stalling in the axis's tick search.
    #[test]
    fn a_coefficient_chart_without_terms_is_drawn() {
        let dir = std::env::temp_dir().join(format!("medida-plots-{}", std::process::id()));
        let written = save_figure(
            &dir,
            "empty_coefficients",
            &Coefficients {
                title: "no terms".into(),
                rows: Vec::new(),
            },
        )
        .unwrap();
        assert_eq!(written.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
