// The world's outlines for the map of conversion by country, written by scripts/build.sh to
// target/site/world.json and fetched only when a user opens the map: world-atlas's countries
// at 1:110m (TopoJSON, ISO 3166 numeric ids) as GeoJSON whose features are named by their
// ISO 3166 alpha-2 code, as the breakdown's rows are; coordinates rounded to 0.01°.
const fs = require("fs");
const topojson = require("topojson-client");
const isoCountries = require("i18n-iso-countries");
const atlas = require("world-atlas/countries-110m.json");

// Places with no ISO numeric code, by their name in the atlas.
const unnumbered = { Kosovo: "XK" };
const round = (value) => (Array.isArray(value) ? value.map(round) : Math.round(value * 100) / 100);

const world = topojson.feature(atlas, atlas.objects.countries);
const features = world.features.flatMap((feature) => {
  const code = isoCountries.numericToAlpha2(feature.id) ?? unnumbered[feature.properties.name];
  if (!code) return [];
  const geometry = { type: feature.geometry.type, coordinates: round(feature.geometry.coordinates) };
  return [{ type: "Feature", properties: { name: code }, geometry }];
});
fs.writeFileSync(process.argv[2], JSON.stringify({ type: "FeatureCollection", features }));
