//! The PNG plot of PBKDF2 cost against iterations, one line per implementation (log–log).
//!
//! Text needs a TrueType font: plotters' `ab_glyph` feature renders it from font bytes we load
//! at run time (`KEYGATE_PLOT_FONT`, else a few usual system paths), so no fontconfig or system
//! font library is linked. Without a font the plot is drawn without text, and the summary says
//! which colour is which.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::summary::{OURS, Pbkdf2Table};

/// Line colours by implementation, ours always first (black).
const PALETTE: [RGBColor; 5] = [BLACK, RED, BLUE, GREEN, MAGENTA];

/// Font files tried when `KEYGATE_PLOT_FONT` is not set.
const FONT_CANDIDATES: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Registers a font for plotters' "sans-serif" family; `false` when none was found.
fn load_font() -> bool {
    let from_env = std::env::var_os("KEYGATE_PLOT_FONT").map(std::path::PathBuf::from);
    let candidates = from_env
        .into_iter()
        .chain(FONT_CANDIDATES.iter().map(std::path::PathBuf::from));
    for path in candidates {
        if let Ok(bytes) = std::fs::read(&path) {
            // plotters keeps registered fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
    }
    false
}

/// The implementations in plotting order (ours first) with their colours.
pub(crate) fn legend(table: &Pbkdf2Table) -> Vec<(&str, RGBColor)> {
    let mut names: Vec<&str> = table.keys().map(String::as_str).collect();
    names.sort_by_key(|name| (*name != OURS, *name));
    names
        .into_iter()
        .zip(PALETTE.iter().cycle().copied())
        .collect()
}

/// Colour names for the text legend of a font-less plot.
pub(crate) fn colour_name(colour: RGBColor) -> &'static str {
    match colour {
        c if c == BLACK => "black",
        c if c == RED => "red",
        c if c == BLUE => "blue",
        c if c == GREEN => "green",
        _ => "magenta",
    }
}

/// Draws `table` (nanoseconds per derivation) to `path`. Returns whether text was drawn.
pub(crate) fn draw(table: &Pbkdf2Table, path: &Path) -> Result<bool> {
    let points: Vec<(u64, f64)> = table
        .values()
        .flat_map(|row| row.iter().map(|(n, ns)| (*n, *ns)))
        .collect();
    let (Some(min_n), Some(max_n)) = (
        points.iter().map(|p| p.0).min(),
        points.iter().map(|p| p.0).max(),
    ) else {
        return Err(anyhow!("no PBKDF2 results to plot"));
    };
    let to_ms = |ns: f64| ns / 1e6;
    let min_ms = points
        .iter()
        .map(|p| to_ms(p.1))
        .fold(f64::INFINITY, f64::min);
    let max_ms = points.iter().map(|p| to_ms(p.1)).fold(0.0, f64::max);
    let x_range = (min_n as f64 * 0.8)..(max_n as f64 * 1.25);
    let y_range = (min_ms * 0.7)..(max_ms * 1.5);
    let with_text = load_font();

    let root = BitMapBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20);
    if with_text {
        builder
            .caption(
                "PBKDF2-HMAC-SHA256 cost (median per derivation)",
                ("sans-serif", 24),
            )
            .x_label_area_size(50)
            .y_label_area_size(80);
    }
    let mut chart = builder
        .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
        .map_err(plot_error)?;
    let mut mesh = chart.configure_mesh();
    if with_text {
        mesh.x_desc("iterations")
            .y_desc("milliseconds")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .x_label_formatter(&|n| format!("{n:.0}"))
            .y_label_formatter(&|ms| format!("{ms}"));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(plot_error)?;

    for (name, colour) in legend(table) {
        let Some(row) = table.get(name) else { continue };
        let series: Vec<(f64, f64)> = row.iter().map(|(n, ns)| (*n as f64, to_ms(*ns))).collect();
        let line = chart
            .draw_series(LineSeries::new(series.clone(), colour.stroke_width(2)))
            .map_err(plot_error)?;
        if with_text {
            line.label(name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        }
        chart
            .draw_series(
                series
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )
            .map_err(plot_error)?;
    }
    if with_text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 18))
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(with_text)
}

fn plot_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("drawing the plot: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_with_one_line_per_implementation() {
        let mut table = Pbkdf2Table::new();
        for (name, per_iteration_ns) in [("keygate", 250.0), ("ring", 260.0), ("openssl", 600.0)] {
            let row = table.entry(name.to_owned()).or_default();
            for n in [1_000u64, 10_000, 100_000, 600_000] {
                row.insert(n, n as f64 * per_iteration_ns);
            }
        }
        let path = std::env::temp_dir().join(format!("xtask-plot-{}.png", std::process::id()));
        draw(&table, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        std::fs::remove_file(&path).unwrap();
        let names: Vec<&str> = legend(&table).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["keygate", "openssl", "ring"], "ours first");
    }
}
