// The world map of conversion by country, bundled apart by scripts/build.sh into
// target/site/echarts-map.min.js and loaded only when a user opens the map: an ECharts of its
// own with the map series (`window.echartsMap`), so that pages that never show a map do not
// carry it. It fetches the outlines (world.json, beside it) and resolves
// `window.echartsMapReady` with this ECharts once the "world" map is registered.
import * as echarts from "echarts/core";
import { MapChart } from "echarts/charts";
import { TooltipComponent, VisualMapContinuousComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([MapChart, TooltipComponent, VisualMapContinuousComponent, CanvasRenderer]);
window.echartsMap = echarts;
const outlines = new URL("world.json", document.currentScript.src);
window.echartsMapReady = fetch(outlines)
  .then((response) => {
    if (!response.ok) throw new Error(`${outlines}: HTTP ${response.status}`);
    return response.json();
  })
  .then((world) => {
    echarts.registerMap("world", world);
    return echarts;
  });
