// The parts of ECharts verilens draws with, bundled by scripts/build.sh into
// target/site/echarts.min.js; charming's WasmRenderer calls the global `echarts`.
import * as echarts from "echarts/core";
import { BarChart, CandlestickChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, CandlestickChart, LineChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);
window.echarts = echarts;
