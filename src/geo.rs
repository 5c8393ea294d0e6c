//! Geography: edge regions, cities, ISPs and the client-IP database.
//!
//! The shipped data gives real IPv4 ranges per ISP but no city. To make "the
//! client IP decides the location" hold, [`GeoIp`] lays each ISP's addresses
//! end to end and cuts that line into one contiguous slice per city, sized by
//! population. The cut depends only on the data files, so an address always
//! maps to the same city, and a device drawn in a city gets an address that
//! maps back to that city.

use std::fmt;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// The regions, cities and ISP ranges shipped in `data/`, used when a
/// scenario names no file of its own.
pub mod builtin {
    /// `data/ens-regions.csv`.
    pub const REGIONS_CSV: &str = include_str!("../data/ens-regions.csv");
    /// `data/cn-cities.csv`.
    pub const CITIES_CSV: &str = include_str!("../data/cn-cities.csv");
    /// `data/cn-isp-ipv4.csv`.
    pub const IP_RANGES_CSV: &str = include_str!("../data/cn-isp-ipv4.csv");
}

/// An internet service provider a device can be a customer of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isp {
    /// China Telecom.
    Telecom,
    /// China Unicom.
    Unicom,
    /// China Mobile.
    Cmcc,
}

impl Isp {
    /// Every ISP, in index order.
    pub const ALL: [Isp; 3] = [Isp::Telecom, Isp::Unicom, Isp::Cmcc];

    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in data files and scenarios.
    pub fn name(self) -> &'static str {
        match self {
            Isp::Telecom => "telecom",
            Isp::Unicom => "unicom",
            Isp::Cmcc => "cmcc",
        }
    }

    fn parse(s: &str) -> Option<Isp> {
        Isp::ALL.into_iter().find(|i| i.name() == s)
    }
}

impl fmt::Display for Isp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The ISPs whose customers a region serves on its own network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct IspSet(u8);

impl IspSet {
    /// All three ISPs (a region with no ISP in its id, or a multi-line one).
    pub const ALL: IspSet = IspSet(0b111);

    /// True if the region serves customers of `isp` on-net.
    pub fn contains(self, isp: Isp) -> bool {
        self.0 & (1 << isp.index()) != 0
    }

    fn with(self, isp: Isp) -> IspSet {
        IspSet(self.0 | (1 << isp.index()))
    }

    /// Reads an `isp_token` of `ens-regions.csv`: `(none in ID)`, `telecom`,
    /// `telecom+unicom+cmcc`; other tokens (`cbn`) are networks no device uses.
    pub fn from_token(token: &str) -> IspSet {
        if token.trim().is_empty() || token.starts_with('(') {
            return IspSet::ALL;
        }
        token
            .split('+')
            .filter_map(|t| Isp::parse(t.trim()))
            .fold(IspSet(0), IspSet::with)
    }
}

/// Great-circle distance in kilometres.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// A data file that cannot be read, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct DataError {
    /// The file (or `built-in ...`) the data came from.
    pub origin: String,
    /// What is wrong, with the row where known.
    pub message: String,
}

fn data_error(origin: &str, message: impl Into<String>) -> DataError {
    DataError {
        origin: origin.to_string(),
        message: message.into(),
    }
}

fn read_rows<T: for<'de> Deserialize<'de>>(text: &str, origin: &str) -> Result<Vec<T>, DataError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.map_err(|e| data_error(origin, format!("row {}: {e}", i + 2))))
        .collect()
}

/// One row of `ens-regions.csv`; coordinates are missing for some ids.
#[derive(Clone, Debug, Deserialize)]
pub struct RegionRecord {
    /// The ENS region id, such as `cn-chengdu-telecom-2`.
    pub ens_region_id: String,
    /// The ISP part of the id.
    pub isp_token: String,
    /// Latitude of the region's city, if known.
    pub lat: Option<f64>,
    /// Longitude of the region's city, if known.
    pub lon: Option<f64>,
}

/// Reads a region table with at least `ens_region_id,isp_token,lat,lon`.
pub fn parse_regions(text: &str, origin: &str) -> Result<Vec<RegionRecord>, DataError> {
    read_rows(text, origin)
}

/// A city where devices live.
#[derive(Clone, Debug, Deserialize)]
pub struct City {
    /// Its English name.
    pub name: String,
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Inhabitants.
    pub population: u64,
}

/// Index of a city in the city table.
pub type CityId = u32;

/// Reads a city table with at least `name,latitude,longitude,population`.
pub fn parse_cities(text: &str, origin: &str) -> Result<Vec<City>, DataError> {
    let cities: Vec<City> = read_rows(text, origin)?;
    if cities.is_empty() {
        return Err(data_error(
            origin,
            "no cities: the file has a header and no rows",
        ));
    }
    if cities.iter().all(|c| c.population == 0) {
        return Err(data_error(origin, "every city has population 0"));
    }
    Ok(cities)
}

#[derive(Deserialize)]
struct IpRangeRow {
    ip_range_start: std::net::Ipv4Addr,
    ip_range_end: std::net::Ipv4Addr,
    isp: String,
}

/// An inclusive range of IPv4 addresses owned by one ISP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    /// First address.
    pub start: u32,
    /// Last address (inclusive).
    pub end: u32,
    /// Owner.
    pub isp: Isp,
}

/// Reads `ip_range_start,ip_range_end,isp`; rows of other ISPs are skipped.
pub fn parse_ip_ranges(text: &str, origin: &str) -> Result<Vec<IpRange>, DataError> {
    let rows: Vec<IpRangeRow> = read_rows(text, origin)?;
    let mut ranges = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let (start, end) = (u32::from(row.ip_range_start), u32::from(row.ip_range_end));
        if end < start {
            return Err(data_error(
                origin,
                format!("row {}: range ends before it starts", i + 2),
            ));
        }
        if let Some(isp) = Isp::parse(&row.isp) {
            ranges.push(IpRange { start, end, isp });
        }
    }
    ranges.sort_by_key(|r| r.start);
    if let Some(w) = ranges.windows(2).find(|w| w[1].start <= w[0].end) {
        return Err(data_error(
            origin,
            format!(
                "ranges starting {} and {} overlap",
                ip_string(w[0].start),
                ip_string(w[1].start)
            ),
        ));
    }
    Ok(ranges)
}

/// Dotted-quad form of an address.
pub fn ip_string(ip: u32) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}

/// The addresses of one ISP, laid end to end and cut into city slices.
struct IspSpace {
    /// Indices into `GeoIp::ranges` of this ISP's ranges, in address order.
    ranges: Vec<u32>,
    /// Offset of each of those ranges on the ISP's line.
    offsets: Vec<u64>,
    /// `bounds[c]..bounds[c + 1]` is city c's slice of the line.
    bounds: Vec<u64>,
}

/// Maps client IPs to (city, ISP) and draws IPs for a city and ISP.
pub struct GeoIp {
    cities: Vec<City>,
    ranges: Vec<IpRange>,
    /// Offset of each range on its ISP's line, parallel to `ranges`.
    offsets: Vec<u64>,
    spaces: [IspSpace; 3],
}

impl GeoIp {
    /// Builds the database; `ranges` must be sorted and disjoint, as
    /// [`parse_ip_ranges`] returns them.
    pub fn new(cities: Vec<City>, ranges: Vec<IpRange>) -> GeoIp {
        let total_pop: u128 = cities.iter().map(|c| c.population as u128).sum();
        let mut offsets = vec![0; ranges.len()];
        let spaces = Isp::ALL.map(|isp| {
            let mut space = IspSpace {
                ranges: Vec::new(),
                offsets: Vec::new(),
                bounds: Vec::new(),
            };
            let mut line = 0u64;
            for (i, r) in ranges.iter().enumerate().filter(|(_, r)| r.isp == isp) {
                space.ranges.push(i as u32);
                space.offsets.push(line);
                offsets[i] = line;
                line += u64::from(r.end - r.start) + 1;
            }
            let mut cumulative = 0u128;
            space.bounds.push(0);
            for city in &cities {
                cumulative += city.population as u128;
                space
                    .bounds
                    .push((line as u128 * cumulative / total_pop.max(1)) as u64);
            }
            space
        });
        GeoIp {
            cities,
            ranges,
            offsets,
            spaces,
        }
    }

    /// The built-in database of the shipped files.
    pub fn builtin() -> Result<GeoIp, DataError> {
        let cities = parse_cities(builtin::CITIES_CSV, "built-in data/cn-cities.csv")?;
        let ranges = parse_ip_ranges(builtin::IP_RANGES_CSV, "built-in data/cn-isp-ipv4.csv")?;
        Ok(GeoIp::new(cities, ranges))
    }

    /// Every city, by [`CityId`].
    pub fn cities(&self) -> &[City] {
        &self.cities
    }

    /// The city with this name (case-insensitive); the most populous of
    /// namesakes.
    pub fn find_city(&self, name: &str) -> Option<CityId> {
        self.cities
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name.eq_ignore_ascii_case(name))
            .max_by_key(|(i, c)| (c.population, std::cmp::Reverse(*i)))
            .map(|(i, _)| i as CityId)
    }

    /// The city and ISP an address belongs to, or `None` for an address of
    /// no known ISP.
    pub fn locate(&self, ip: u32) -> Option<(CityId, Isp)> {
        let i = self
            .ranges
            .partition_point(|r| r.start <= ip)
            .checked_sub(1)?;
        let range = self.ranges[i];
        if ip > range.end {
            return None;
        }
        let at = self.offsets[i] + u64::from(ip - range.start);
        let bounds = &self.spaces[range.isp.index()].bounds;
        let city = bounds.partition_point(|&b| b <= at).checked_sub(1)?;
        Some((city.min(self.cities.len() - 1) as CityId, range.isp))
    }

    /// True when `isp` has at least one address in `city`.
    pub fn has_addresses(&self, city: CityId, isp: Isp) -> bool {
        let b = &self.spaces[isp.index()].bounds;
        b[city as usize + 1] > b[city as usize]
    }

    /// A uniformly drawn address of `isp` in `city`, or `None` if the ISP has
    /// no addresses there.
    pub fn draw_ip<R: Rng + ?Sized>(&self, city: CityId, isp: Isp, rng: &mut R) -> Option<u32> {
        let space = &self.spaces[isp.index()];
        let (lo, hi) = (space.bounds[city as usize], space.bounds[city as usize + 1]);
        if hi <= lo {
            return None;
        }
        let at = rng.random_range(lo..hi);
        let k = space.offsets.partition_point(|&o| o <= at) - 1;
        let range = self.ranges[space.ranges[k] as usize];
        Some(range.start + (at - space.offsets[k]) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn a_drawn_address_maps_back_to_its_city_and_isp() {
        let geo = GeoIp::builtin().unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        for city in [0, 1, 57, 900, geo.cities().len() as CityId - 1] {
            for isp in Isp::ALL {
                for _ in 0..50 {
                    let ip = geo.draw_ip(city, isp, &mut rng).unwrap();
                    assert_eq!(geo.locate(ip), Some((city, isp)), "{}", ip_string(ip));
                }
            }
        }
    }

    #[test]
    fn addresses_outside_every_range_have_no_location() {
        let geo = GeoIp::builtin().unwrap();
        assert_eq!(
            geo.locate(u32::from(std::net::Ipv4Addr::new(127, 0, 0, 1))),
            None
        );
        assert_eq!(geo.locate(0), None);
    }

    #[test]
    fn beijing_to_shanghai_is_about_1070_km() {
        let d = distance_km(39.9075, 116.39723, 31.22222, 121.45806);
        assert!((d - 1067.0).abs() < 15.0, "{d}");
    }

    #[test]
    fn isp_tokens_parse_to_the_regions_served() {
        assert_eq!(IspSet::from_token("(none in ID)"), IspSet::ALL);
        assert_eq!(IspSet::from_token("telecom+unicom+cmcc"), IspSet::ALL);
        assert!(IspSet::from_token("cmcc").contains(Isp::Cmcc));
        assert!(!IspSet::from_token("cmcc").contains(Isp::Telecom));
        assert_eq!(IspSet::from_token("cbn"), IspSet::default());
    }
}
