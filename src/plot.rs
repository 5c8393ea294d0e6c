//! Charts of a results folder, drawn as SVG from its CSV files.
//!
//! The charts are made from the files alone, not from a run in memory, so
//! `ensim plot <folder>` draws the same charts for an old run as `ensim run
//! --plot` does for a new one. plotters' SVG backend writes text as `<text>`
//! elements and estimates text widths itself, so no font files are read;
//! the viewer chooses the `sans-serif` face.
//!
//! - `latency_percentiles.svg`: the percentile spectrum of each action, one
//!   panel per action and a line per outcome, on a log axis of
//!   1/(1-percentile), from `latency_percentiles.csv` (or the few
//!   percentiles of `summary.csv` for a folder without it);
//! - `utilisation.svg`: busy units over time, the fleet and its busiest
//!   regions, from `timeseries.csv`;
//! - `outcomes.svg`: answers per second by outcome kind, and arrivals, over
//!   time, from `timeseries.csv`;
//! - `contention.svg`: conflicts per placement and the 99th percentile of
//!   lock waits, per region, from `contention.csv`.

use std::collections::BTreeMap;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::metrics::OutcomeKind;

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A CSV file is not as ensim writes it.
    #[error("{file}: {message}; plot a results folder written by `ensim run`")]
    Csv {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// plotters failed.
    #[error("cannot draw {file}: {message}")]
    Draw {
        /// The chart.
        file: String,
        /// What plotters said.
        message: String,
    },
}

/// Charts drawn, and notes on those that were not.
pub struct Charts {
    /// SVG files by name.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// One line for each chart left out, and why.
    pub notes: Vec<String>,
}

/// Draws every chart whose CSV `read` can give: `read(name)` returns the
/// bytes of the folder's file `name`, or `None` if it has none.
pub fn charts(read: impl Fn(&str) -> Option<Vec<u8>>) -> Result<Charts, PlotError> {
    let mut out = Charts {
        files: Vec::new(),
        notes: Vec::new(),
    };
    let percentiles = match read("latency_percentiles.csv") {
        Some(b) => Some(spectrum_from_percentiles(&Table::parse(
            "latency_percentiles.csv",
            &b,
        )?)?),
        None => match read("summary.csv") {
            Some(b) => Some(spectrum_from_summary(&Table::parse("summary.csv", &b)?)?),
            None => None,
        },
    };
    match percentiles {
        Some(s) => out
            .files
            .push(("latency_percentiles.svg", draw_spectrum(&s)?)),
        None => out
            .notes
            .push("latency_percentiles.svg: no latency_percentiles.csv or summary.csv".to_string()),
    }
    match read("timeseries.csv") {
        Some(b) => {
            let t = Table::parse("timeseries.csv", &b)?;
            let warmup = read("run.json").and_then(|j| warmup_s(&j));
            out.files
                .push(("utilisation.svg", draw_utilisation(&t, warmup)?));
            out.files.push(("outcomes.svg", draw_outcomes(&t, warmup)?));
        }
        None => out
            .notes
            .push("utilisation.svg, outcomes.svg: no timeseries.csv".to_string()),
    }
    match read("contention.csv") {
        Some(b) => out.files.push((
            "contention.svg",
            draw_contention(&Table::parse("contention.csv", &b)?)?,
        )),
        None => out
            .notes
            .push("contention.svg: no contention.csv".to_string()),
    }
    Ok(out)
}

fn warmup_s(run_json: &[u8]) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_slice(run_json).ok()?;
    v.get("warmup_s")?.as_f64().filter(|w| *w > 0.0)
}

/// A CSV file by column name.
struct Table {
    file: &'static str,
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn parse(file: &'static str, bytes: &[u8]) -> Result<Table, PlotError> {
        let err = |message: String| PlotError::Csv {
            file: file.to_string(),
            message,
        };
        let mut r = csv::Reader::from_reader(bytes);
        let header = r
            .headers()
            .map_err(|e| err(e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let rows = r
            .records()
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?;
        Ok(Table { file, header, rows })
    }

    fn column(&self, name: &str) -> Result<usize, PlotError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| PlotError::Csv {
                file: self.file.to_string(),
                message: format!("no column `{name}`"),
            })
    }

    /// The number in column `c` of `row`; `None` for an empty cell.
    fn number(&self, row: &csv::StringRecord, c: usize) -> Result<Option<f64>, PlotError> {
        let cell = row.get(c).unwrap_or("");
        if cell.is_empty() {
            return Ok(None);
        }
        cell.parse().map(Some).map_err(|_| PlotError::Csv {
            file: self.file.to_string(),
            message: format!("{cell:?} in column `{}` is not a number", self.header[c]),
        })
    }
}

/// One outcome's spectrum: its name, its count, and its points
/// (1/(1-percentile), latency ms).
type Curve = (String, u64, Vec<(f64, f64)>);

/// The curves of each action.
type Spectrum = BTreeMap<String, Vec<Curve>>;

fn push_point(s: &mut Spectrum, action: &str, outcome: &str, count: u64, point: (f64, f64)) {
    let lines = s.entry(action.to_string()).or_default();
    match lines.iter_mut().find(|l| l.0 == outcome) {
        Some(l) => {
            l.1 = l.1.max(count);
            l.2.push(point);
        }
        None => lines.push((outcome.to_string(), count, vec![point])),
    }
}

fn spectrum_from_percentiles(t: &Table) -> Result<Spectrum, PlotError> {
    let (a, o) = (t.column("action")?, t.column("outcome")?);
    let (v, n, inv) = (
        t.column("value_ms")?,
        t.column("total_count")?,
        t.column("one_over_one_minus_percentile")?,
    );
    let mut s = Spectrum::new();
    for row in &t.rows {
        let (Some(value), Some(x)) = (t.number(row, v)?, t.number(row, inv)?) else {
            continue;
        };
        let count = t.number(row, n)?.unwrap_or(0.0) as u64;
        push_point(&mut s, &row[a], &row[o], count, (x.max(1.0), value));
    }
    Ok(s)
}

fn spectrum_from_summary(t: &Table) -> Result<Spectrum, PlotError> {
    let (a, o, n) = (
        t.column("action")?,
        t.column("outcome")?,
        t.column("count")?,
    );
    let points = [
        ("p50_ms", 2.0),
        ("p90_ms", 10.0),
        ("p99_ms", 100.0),
        ("p999_ms", 1000.0),
    ];
    let columns = points
        .iter()
        .map(|(c, x)| Ok((t.column(c)?, *x)))
        .collect::<Result<Vec<_>, PlotError>>()?;
    let mut s = Spectrum::new();
    for row in &t.rows {
        let count = t.number(row, n)?.unwrap_or(0.0) as u64;
        for &(c, x) in &columns {
            if let Some(value) = t.number(row, c)? {
                push_point(&mut s, &row[a], &row[o], count, (x, value));
            }
        }
    }
    Ok(s)
}

fn draw_error(file: &str) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError::Draw {
        file: file.to_string(),
        message,
    }
}

/// The colour of series `i`.
fn colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    COLOURS[i % COLOURS.len()]
}

/// The percentile a point of 1/(1-percentile) stands for, as a label.
fn percentile_label(x: f64) -> String {
    let decade = x.log10();
    if (decade - decade.round()).abs() > 1e-6 {
        return String::new();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let digits = (decade.round() as usize).saturating_sub(2);
    format!("{p:.digits$}%")
}

/// An axis label: whole numbers without decimals, others with at most
/// three.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

const TITLE: (&str, u32) = ("sans-serif", 26);
const CAPTION: (&str, u32) = ("sans-serif", 19);
const LABEL: (&str, u32) = ("sans-serif", 15);
const WIDTH: u32 = 1300;

fn titled<'b>(
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    file: &str,
) -> Result<DrawingArea<SVGBackend<'b>, Shift>, PlotError> {
    root.fill(&WHITE)
        .map_err(|e| draw_error(file)(e.to_string()))?;
    root.titled(title, TITLE)
        .map_err(|e| draw_error(file)(e.to_string()))
}

fn draw_spectrum(s: &Spectrum) -> Result<Vec<u8>, PlotError> {
    const FILE: &str = "latency_percentiles.svg";
    let e = draw_error(FILE);
    let actions: Vec<_> = crate::api::Action::ALL
        .iter()
        .filter_map(|a| s.get_key_value(a.name()))
        .chain(
            s.iter()
                .filter(|(k, _)| crate::api::Action::parse(k).is_none()),
        )
        .collect();
    let panel_height = 340;
    let height = 60 + panel_height * actions.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let area = titled(&root, "Latency by percentile, per action", FILE)?;
        if actions.is_empty() {
            area.draw_text(
                "no answers were measured",
                &LABEL.into_text_style(&area),
                (40, 40),
            )
            .map_err(|x| e(x.to_string()))?;
        }
        let panels = area.split_evenly((actions.len().max(1), 1));
        for ((action, lines), panel) in actions.iter().zip(panels.iter()) {
            let x_max = lines
                .iter()
                .flat_map(|l| l.2.iter().map(|p| p.0))
                .fold(100.0f64, f64::max);
            let x_max = 10f64.powf(x_max.log10().ceil());
            let values = || lines.iter().flat_map(|l| l.2.iter().map(|p| p.1));
            let y_max = values().fold(0.0f64, f64::max);
            let y_min = values().filter(|v| *v > 0.0).fold(f64::MAX, f64::min);
            let keys: Vec<_> = lines
                .iter()
                .enumerate()
                .map(|(i, (outcome, count, _))| {
                    let answers = if *count == 1 { "answer" } else { "answers" };
                    (
                        format!("{outcome} ({count} {answers})"),
                        colour(i),
                        2,
                        false,
                    )
                })
                .collect();
            let panel = with_legend(panel, &keys, FILE)?;
            let frame = SpectrumPanel {
                area: &panel,
                action,
                x: 1f64..x_max,
                lines,
            };
            // Outcomes whose latencies lie decades apart (a lock that
            // expired after minutes beside answers in milliseconds) share a
            // log axis; others a linear one from zero.
            if y_max > 100.0 * y_min {
                let y = (y_min / 1.5)..(y_max * 1.5);
                frame.draw(y.log_scale(), "latency (ms, log scale)")?;
            } else {
                let y = 0f64..if y_max > 0.0 { y_max * 1.08 } else { 1.0 };
                frame.draw(y, "latency (ms)")?;
            }
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg.into_bytes())
}

/// One panel of the percentile spectrum: one action's outcomes.
struct SpectrumPanel<'a, 'b> {
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    action: &'a str,
    x: Range<f64>,
    lines: &'a [Curve],
}

impl SpectrumPanel<'_, '_> {
    /// Draws the panel with latency on `y`; points at zero are left out
    /// of a log axis.
    fn draw<Y>(self, y: Y, y_desc: &str) -> Result<(), PlotError>
    where
        Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        const FILE: &str = "latency_percentiles.svg";
        let e = draw_error(FILE);
        let log = y_desc.contains("log");
        let mut chart = ChartBuilder::on(self.area)
            .caption(self.action, CAPTION)
            .margin(12)
            .margin_right(48)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(self.x.log_scale(), y)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of 1/(1 - percentile))")
            .y_desc(y_desc)
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| tick(*y))
            .x_max_light_lines(1)
            .y_max_light_lines(1)
            .label_style(LABEL)
            .axis_desc_style(LABEL)
            .draw()
            .map_err(|x| e(x.to_string()))?;
        for (i, (_, _, points)) in self.lines.iter().enumerate() {
            let c = colour(i);
            let points: Vec<(f64, f64)> = points
                .iter()
                .copied()
                .filter(|p| !log || p.1 > 0.0)
                .collect();
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?;
            // A line of one or two points is hard to see: mark them.
            if points.len() < 3 {
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))
                    .map_err(|x| e(x.to_string()))?;
            }
        }
        Ok(())
    }
}

/// One line of a chart over time.
struct Line {
    label: String,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    width: u32,
}

/// Width of the legend to the right of a chart, in pixels.
const LEGEND_WIDTH: u32 = 360;

/// The grey of the warm-up line.
const GREY: RGBColor = RGBColor(110, 110, 110);

/// Splits `area` into a chart and, on its right, a legend with one entry
/// per (label, colour, stroke width, dashed); returns the chart's part.
fn with_legend<'b>(
    area: &DrawingArea<SVGBackend<'b>, Shift>,
    keys: &[(String, RGBColor, u32, bool)],
    file: &str,
) -> Result<DrawingArea<SVGBackend<'b>, Shift>, PlotError> {
    let e = draw_error(file);
    let (w, _) = area.dim_in_pixel();
    let (chart, legend) = area.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
    let text = LABEL
        .into_text_style(&legend)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (label, c, width, dashed)) in keys.iter().enumerate() {
        let y = 58 + 22 * i as i32;
        let style = c.stroke_width(*width);
        let segments: &[(i32, i32)] = if *dashed {
            &[(4, 12), (17, 25), (30, 36)]
        } else {
            &[(4, 36)]
        };
        for &(a, b) in segments {
            legend
                .draw(&PathElement::new(vec![(a, y), (b, y)], style))
                .map_err(|x| e(x.to_string()))?;
        }
        legend
            .draw(&Text::new(label.clone(), (44, y), text.clone()))
            .map_err(|x| e(x.to_string()))?;
    }
    Ok(chart)
}

/// Draws `lines` over time on `area`.
struct OverTime<'a> {
    caption: &'a str,
    y_desc: &'a str,
    time: Range<f64>,
    warmup: Option<f64>,
    /// Whether values decades apart go on a log axis.
    log_if_wide: bool,
}

/// Draws `lines` over time on `area`, with their legend on the right.
fn draw_over_time(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    file: &str,
    how: OverTime<'_>,
    lines: &[Line],
) -> Result<(), PlotError> {
    let warmup = how.warmup.filter(|w| how.time.contains(w));
    let mut keys: Vec<_> = warmup
        .map(|_| ("end of warm-up".to_string(), GREY, 1, true))
        .into_iter()
        .collect();
    keys.extend(
        lines
            .iter()
            .map(|l| (l.label.clone(), l.colour, l.width, false)),
    );
    let area = with_legend(area, &keys, file)?;
    let values = || lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let y_max = values().fold(0.0f64, f64::max);
    let y_min = values().filter(|v| *v > 0.0).fold(f64::MAX, f64::min);
    let frame = TimeFrame {
        area: &area,
        file,
        how: &how,
        warmup,
        lines,
    };
    if how.log_if_wide && y_max > 100.0 * y_min {
        let desc = match how.y_desc.strip_suffix(')') {
            Some(head) => format!("{head}, log scale)"),
            None => format!("{} (log scale)", how.y_desc),
        };
        frame.draw((y_min / 1.5)..(y_max * 1.5), true, &desc)
    } else {
        let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
        frame.draw(0f64..y_max, false, how.y_desc)
    }
}

/// A chart over time being drawn.
struct TimeFrame<'a, 'b> {
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    file: &'a str,
    how: &'a OverTime<'a>,
    warmup: Option<f64>,
    lines: &'a [Line],
}

impl TimeFrame<'_, '_> {
    /// Draws the lines with `y` from `y_range`, on a log axis if `log`
    /// (where points at zero are left out).
    fn draw(self, y_range: Range<f64>, log: bool, y_desc: &str) -> Result<(), PlotError> {
        if log {
            self.draw_on(y_range.clone().log_scale(), y_range, log, y_desc)
        } else {
            self.draw_on(y_range.clone(), y_range, log, y_desc)
        }
    }

    fn draw_on<Y>(self, y: Y, y_range: Range<f64>, log: bool, y_desc: &str) -> Result<(), PlotError>
    where
        Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let e = draw_error(self.file);
        let mut chart = ChartBuilder::on(self.area)
            .caption(self.how.caption, CAPTION)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(self.how.time.clone(), y)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc(y_desc)
            .x_label_formatter(&|x| tick(*x))
            .y_label_formatter(&|y| tick(*y))
            .x_max_light_lines(1)
            .y_max_light_lines(1)
            .label_style(LABEL)
            .axis_desc_style(LABEL)
            .draw()
            .map_err(|x| e(x.to_string()))?;
        if let Some(w) = self.warmup {
            chart
                .draw_series(DashedLineSeries::new(
                    [(w, y_range.start), (w, y_range.end)],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(|x| e(x.to_string()))?;
        }
        for line in self.lines {
            let points = line.points.iter().copied().filter(|p| !log || p.1 > 0.0);
            chart
                .draw_series(LineSeries::new(
                    points,
                    line.colour.stroke_width(line.width),
                ))
                .map_err(|x| e(x.to_string()))?;
        }
        Ok(())
    }
}

/// Points drawn per line over time at most; longer series are averaged
/// over bins of consecutive intervals.
const MAX_POINTS: usize = 300;

/// Intervals per bin so that `n` intervals make at most [`MAX_POINTS`].
fn bin_size(n: usize) -> usize {
    n.div_ceil(MAX_POINTS).max(1)
}

/// `points` averaged over bins of `bin` consecutive points.
fn binned(points: Vec<(f64, f64)>, bin: usize) -> Vec<(f64, f64)> {
    if bin <= 1 {
        return points;
    }
    points
        .chunks(bin)
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect()
}

/// How the captions say a series was averaged.
fn averaged(t: &Table, bin: usize) -> Result<String, PlotError> {
    if bin <= 1 {
        return Ok(String::new());
    }
    let (s, e) = (t.column("start_s")?, t.column("end_s")?);
    let span = match t.rows.first() {
        Some(row) => t.number(row, e)?.unwrap_or(0.0) - t.number(row, s)?.unwrap_or(0.0),
        None => 0.0,
    };
    Ok(format!(" (means over {} s)", tick(span * bin as f64)))
}

/// The span of time the rows of a time series cover.
fn time_range(t: &Table) -> Result<Range<f64>, PlotError> {
    let (s, e) = (t.column("start_s")?, t.column("end_s")?);
    let mut range = f64::MAX..0.0f64;
    for row in &t.rows {
        if let (Some(a), Some(b)) = (t.number(row, s)?, t.number(row, e)?) {
            range = range.start.min(a)..range.end.max(b);
        }
    }
    if range.start >= range.end {
        range = 0.0..1.0;
    }
    Ok(range)
}

/// Column `column` over time, each point at the middle of its interval;
/// `per_second` divides by the interval's length.
fn series(t: &Table, column: &str, per_second: bool) -> Result<Vec<(f64, f64)>, PlotError> {
    let (s, e, c) = (t.column("start_s")?, t.column("end_s")?, t.column(column)?);
    let mut points = Vec::new();
    for row in &t.rows {
        if let (Some(start), Some(end), Some(v)) =
            (t.number(row, s)?, t.number(row, e)?, t.number(row, c)?)
            && end > start
        {
            let v = if per_second { v / (end - start) } else { v };
            points.push(((start + end) / 2.0, v));
        }
    }
    Ok(points)
}

/// Busy units of `region` over time, in % of its units.
fn region_utilisation(t: &Table, region: &str) -> Result<Vec<(f64, f64)>, PlotError> {
    let column = |c: &str| series(t, &format!("{region}:{c}"), false);
    let (idle, locked, active) = (
        column("idle_units")?,
        column("locked_units")?,
        column("active_units")?,
    );
    Ok(idle
        .iter()
        .zip(&locked)
        .zip(&active)
        .map(|((i, l), a)| {
            let units = i.1 + l.1 + a.1;
            let busy = if units > 0.0 {
                (l.1 + a.1) / units
            } else {
                0.0
            };
            (i.0, 100.0 * busy)
        })
        .collect())
}

/// Regions drawn on the utilisation chart besides the fleet.
const BUSIEST_REGIONS: usize = 6;

fn draw_utilisation(t: &Table, warmup: Option<f64>) -> Result<Vec<u8>, PlotError> {
    const FILE: &str = "utilisation.svg";
    let time = time_range(t)?;
    let regions: Vec<&str> = t
        .header
        .iter()
        .filter_map(|h| h.strip_suffix(":idle_units"))
        .collect();
    let mut by_mean = Vec::new();
    for region in regions {
        let points = region_utilisation(t, region)?;
        let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len().max(1) as f64;
        by_mean.push((mean, region.to_string(), points));
    }
    by_mean.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let shown = by_mean.len().min(BUSIEST_REGIONS);
    let bin = bin_size(t.rows.len());
    let fleet = series(t, "utilisation", false)?;
    let mut lines = vec![Line {
        label: "whole fleet".to_string(),
        points: binned(
            fleet.into_iter().map(|(x, y)| (x, 100.0 * y)).collect(),
            bin,
        ),
        colour: colour(0),
        width: 3,
    }];
    for (i, (_, region, points)) in by_mean.into_iter().take(shown).enumerate() {
        lines.push(Line {
            label: region,
            points: binned(points, bin),
            colour: colour(i + 1),
            width: 1,
        });
    }
    let sessions = vec![Line {
        label: "devices in a session".to_string(),
        points: binned(series(t, "in_session", false)?, bin),
        colour: colour(0),
        width: 2,
    }];
    let note = averaged(t, bin)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 900)).into_drawing_area();
        let area = titled(&root, "Utilisation over time", FILE)?;
        let (top, bottom) = area.split_vertically(560);
        let caption = format!(
            "busy (locked or active) units, % of units: the fleet and its {shown} busiest regions{note}"
        );
        let how = OverTime {
            caption: &caption,
            y_desc: "busy units (%)",
            time: time.clone(),
            warmup,
            log_if_wide: false,
        };
        draw_over_time(&top, FILE, how, &lines)?;
        let caption = format!("devices in a session at the end of each interval{note}");
        let how = OverTime {
            caption: &caption,
            y_desc: "devices",
            time,
            warmup,
            log_if_wide: false,
        };
        draw_over_time(&bottom, FILE, how, &sessions)?;
        root.present()
            .map_err(|x| draw_error(FILE)(x.to_string()))?;
    }
    Ok(svg.into_bytes())
}

fn draw_outcomes(t: &Table, warmup: Option<f64>) -> Result<Vec<u8>, PlotError> {
    const FILE: &str = "outcomes.svg";
    let time = time_range(t)?;
    let bin = bin_size(t.rows.len());
    let note = averaged(t, bin)?;
    let mut lines = vec![Line {
        label: "sessions arrived".to_string(),
        points: binned(series(t, "arrivals", true)?, bin),
        colour: colour(0),
        width: 2,
    }];
    for kind in OutcomeKind::ALL {
        let points = series(t, kind.name(), true)?;
        if points.iter().any(|p| p.1 > 0.0) {
            lines.push(Line {
                label: format!("answers: {}", kind.name()),
                points: binned(points, bin),
                colour: colour(1 + kind as usize),
                width: if kind == OutcomeKind::Ok { 2 } else { 1 },
            });
        }
    }
    let mut latency = Vec::new();
    for (i, action) in crate::api::Action::ALL.iter().enumerate() {
        for (column, label) in [("p50_ms", "median"), ("p99_ms", "99th percentile")] {
            let name = format!("{}:{column}", action.name());
            if t.column(&name).is_ok() {
                latency.push(Line {
                    label: format!("{} {label}", action.name()),
                    points: binned(series(t, &name, false)?, bin),
                    colour: colour(i),
                    width: if column == "p99_ms" { 3 } else { 1 },
                });
            }
        }
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 1000)).into_drawing_area();
        let area = titled(&root, "Outcomes over time", FILE)?;
        let (top, bottom) = area.split_vertically(480);
        let caption = format!("arrivals and answers per second, by outcome{note}");
        let how = OverTime {
            caption: &caption,
            y_desc: "per second",
            time: time.clone(),
            warmup,
            log_if_wide: false,
        };
        draw_over_time(&top, FILE, how, &lines)?;
        let caption = format!("latency of the answers received in each interval, per action{note}");
        let how = OverTime {
            caption: &caption,
            y_desc: "latency (ms)",
            time,
            warmup,
            log_if_wide: true,
        };
        draw_over_time(&bottom, FILE, how, &latency)?;
        root.present()
            .map_err(|x| draw_error(FILE)(x.to_string()))?;
    }
    Ok(svg.into_bytes())
}

/// Region rows of contention.csv: (region, action, metric) to (mean, p99).
fn contention_by_region(t: &Table) -> Result<BTreeMap<(String, String), [f64; 2]>, PlotError> {
    let (scope, region, action, metric) = (
        t.column("scope")?,
        t.column("region")?,
        t.column("action")?,
        t.column("metric")?,
    );
    let (mean, p99) = (t.column("mean")?, t.column("p99")?);
    let mut out: BTreeMap<(String, String), [f64; 2]> = BTreeMap::new();
    for row in t.rows.iter().filter(|x| &x[scope] == "region") {
        let a = &row[action];
        if a != "Start" && a != "PreSchedule" {
            continue;
        }
        let slot = match &row[metric] {
            "conflicts" => 0,
            "lock_wait_ms" => 1,
            _ => continue,
        };
        let value = match slot {
            0 => t.number(row, mean)?,
            _ => t.number(row, p99)?,
        };
        let entry = out
            .entry((row[region].to_string(), a.to_string()))
            .or_default();
        entry[slot] = entry[slot].max(value.unwrap_or(0.0));
    }
    Ok(out)
}

fn draw_bars(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    file: &str,
    caption: &str,
    x_desc: &str,
    bars: &[(String, f64)],
    c: RGBColor,
) -> Result<(), PlotError> {
    let e = draw_error(file);
    let x_max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max);
    let x_max = if x_max > 0.0 { x_max * 1.15 } else { 1.0 };
    let n = bars.len();
    let longest = bars.iter().map(|b| b.0.len()).max().unwrap_or(0);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, CAPTION)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(30 + 8 * longest as u32)
        .build_cartesian_2d(0f64..x_max, (0..n).into_segmented())
        .map_err(|x| e(x.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                bars.get(*i).map(|b| b.0.clone()).unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        })
        .x_desc(x_desc)
        .x_label_formatter(&|x| tick(*x))
        .x_max_light_lines(1)
        .label_style(LABEL)
        .axis_desc_style(LABEL)
        .draw()
        .map_err(|x| e(x.to_string()))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, b)| {
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (b.1, SegmentValue::Exact(i + 1)),
                ],
                c.filled(),
            );
            r.set_margin(3, 3, 0, 0);
            r
        }))
        .map_err(|x| e(x.to_string()))?;
    Ok(())
}

/// Regions drawn on the contention chart at most, the most conflicts first.
const HOTTEST_REGIONS: usize = 25;

fn draw_contention(t: &Table) -> Result<Vec<u8>, PlotError> {
    const FILE: &str = "contention.svg";
    let by_region = contention_by_region(t)?;
    let first_action = by_region.keys().next().map(|k| k.1.clone());
    let multi_action = by_region
        .keys()
        .any(|k| Some(&k.1) != first_action.as_ref());
    let mut rows: Vec<(String, [f64; 2])> = by_region
        .iter()
        .map(|(k, v)| {
            let name = if multi_action {
                format!("{} {}", k.0, k.1)
            } else {
                k.0.clone()
            };
            (name, *v)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.1[0]
            .total_cmp(&a.1[0])
            .then(b.1[1].total_cmp(&a.1[1]))
            .then_with(|| a.0.cmp(&b.0))
    });
    let all = rows.len();
    rows.truncate(HOTTEST_REGIONS);
    // The hottest region on top: bars are drawn from the bottom up.
    rows.reverse();
    let quiet = rows.iter().all(|r| r.1 == [0.0, 0.0]);
    let conflicts: Vec<(String, f64)> = rows.iter().map(|r| (r.0.clone(), r.1[0])).collect();
    let waits: Vec<(String, f64)> = rows.iter().map(|r| (r.0.clone(), r.1[1])).collect();
    let height = if quiet {
        200
    } else {
        160 + 26 * rows.len().max(4) as u32
    };
    let which = if all > rows.len() {
        format!(
            "the {} of {all} regions with the most conflicts",
            rows.len()
        )
    } else {
        "every region with placements".to_string()
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH + 100, height)).into_drawing_area();
        let title = if quiet {
            "Lock contention of placements per region".to_string()
        } else {
            format!("Lock contention of placements per region: {which}")
        };
        let area = titled(&root, &title, FILE)?;
        if quiet {
            let text = if rows.is_empty() {
                "no placements were measured, so there was no lock contention"
            } else {
                "no contention: every placement took its first unit, and no lock operation waited"
            };
            area.draw_text(text, &CAPTION.into_text_style(&area), (40, 60))
                .map_err(|x| draw_error(FILE)(x.to_string()))?;
        } else {
            let (left, right) = area.split_horizontally((WIDTH + 100) / 2);
            draw_bars(
                &left,
                FILE,
                "conflicts per placement (mean)",
                "refusals met per placement",
                &conflicts,
                colour(1),
            )?;
            draw_bars(
                &right,
                FILE,
                "lock wait, 99th percentile",
                "wait at the node's lock manager (ms)",
                &waits,
                colour(0),
            )?;
        }
        root.present()
            .map_err(|x| draw_error(FILE)(x.to_string()))?;
    }
    Ok(svg.into_bytes())
}

/// A point of a sweep chart: the key's value, the mean, the interval's ends.
type SweepPoint = (f64, f64, f64, f64);

/// `sweep.svg`: each figure of a `sweep.csv` that has values, against the
/// varied key, one panel per figure: the mean at each point with its 95%
/// interval as a bar.
pub fn sweep_chart(key: &str, sweep_csv: &[u8]) -> Result<Vec<u8>, PlotError> {
    const FILE: &str = "sweep.svg";
    let e = draw_error(FILE);
    let csv_err = |message: String| PlotError::Csv {
        file: "sweep.csv".into(),
        message,
    };
    let mut r = csv::Reader::from_reader(sweep_csv);
    let header: Vec<String> = r
        .headers()
        .map_err(|x| csv_err(x.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let rows: Vec<csv::StringRecord> = r
        .records()
        .collect::<Result<_, _>>()
        .map_err(|x| csv_err(x.to_string()))?;
    let num =
        |rec: &csv::StringRecord, col: usize| rec.get(col).and_then(|s| s.parse::<f64>().ok());
    let x_col = header
        .iter()
        .position(|h| h == key)
        .ok_or_else(|| csv_err(format!("no column {key}")))?;
    // (figure, points of (x, mean, low, high))
    let mut panels: Vec<(String, Vec<SweepPoint>)> = Vec::new();
    for (c, h) in header.iter().enumerate() {
        let Some(figure) = h.strip_suffix("_mean") else {
            continue;
        };
        let points: Vec<SweepPoint> = rows
            .iter()
            .filter_map(|rec| {
                let (x, m) = (num(rec, x_col)?, num(rec, c)?);
                Some((
                    x,
                    m,
                    num(rec, c + 1).unwrap_or(m),
                    num(rec, c + 2).unwrap_or(m),
                ))
            })
            .collect();
        if !points.is_empty() {
            panels.push((figure.to_string(), points));
        }
    }
    if panels.is_empty() {
        return Err(csv_err("no figure has values to plot".into()));
    }
    let cols = 2usize;
    let rows_n = panels.len().div_ceil(cols);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 60 + 330 * rows_n as u32))
            .into_drawing_area();
        let body = titled(
            &root,
            &format!("Sweep of {key}: mean and 95% interval per point"),
            FILE,
        )?;
        for (area, (figure, points)) in body.split_evenly((rows_n, cols)).iter().zip(&panels) {
            let (x0, x1) = points
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let (y0, y1) = points
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.2), b.max(p.3)));
            let pad_x = if x1 > x0 { (x1 - x0) * 0.05 } else { 1.0 };
            let pad_y = if y1 > y0 {
                (y1 - y0) * 0.1
            } else {
                y1.abs().max(1.0) * 0.1
            };
            let mut chart = ChartBuilder::on(area)
                .caption(figure, CAPTION)
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(70)
                .build_cartesian_2d(
                    (x0 - pad_x)..(x1 + pad_x),
                    (y0 - pad_y).min(0.0f64.max(y0 - pad_y))..(y1 + pad_y),
                )
                .map_err(|x| e(x.to_string()))?;
            chart
                .configure_mesh()
                .x_desc(key)
                .y_desc(figure)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .label_style(LABEL)
                .axis_desc_style(LABEL)
                .draw()
                .map_err(|x| e(x.to_string()))?;
            let c = colour(0);
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| ErrorBar::new_vertical(p.0, p.2, p.1, p.3, c.filled(), 8)),
                )
                .map_err(|x| e(x.to_string()))?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_mark_the_decades() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(1e4), "99.99%");
        assert_eq!(percentile_label(20.0), "");
    }
}
