/**
 * @module engine/pareto
 * Pareto metrics of an evaluation sweep: simplex grids of preference vectors, non-dominated filtering, exact
 * hypervolume (any k) with a stored reference point, MIP, the JSON report and its SVG plot. Pure functions.
 */
export { ParetoInputError, type ParetoErrorCode } from "./errors.ts";
export {
  simplexGrid,
  simplexGridByDivisions,
  simplexGridSize,
  divisionsForStep,
  checkSimplexVector,
  DEFAULT_MAX_GRID_POINTS,
  SIMPLEX_SUM_TOLERANCE,
  type SimplexGridOptions,
} from "./grid.ts";
export { dominates, paretoFront, paretoFrontIndices, type DuplicatePolicy, type ParetoFrontOptions } from "./front.ts";
export {
  hypervolume,
  computeHypervolume,
  referencePoint,
  type ReferencePointRule,
  type HypervolumeResult,
} from "./hypervolume.ts";
export { meanInnerProduct, meanRewardVector, innerProduct, type AlphaRewards } from "./mip.ts";
export {
  buildParetoReport,
  formatAlpha,
  DEFAULT_REFERENCE_RULE,
  type ParetoReport,
  type ParetoReportOptions,
  type ReportPoint,
  type ReportBaselinePoint,
  type ReportBaselineSeries,
  type ReportReferenceRule,
  type BaselinePoint,
} from "./report.ts";
export { renderParetoSvg, type ParetoPlotOptions } from "./plot.ts";
