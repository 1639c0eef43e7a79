/** @module engine/pareto/plot.test */
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderParetoSvg } from "./plot.ts";
import { buildParetoReport } from "./report.ts";
import { simplexGrid } from "./grid.ts";
import { ParetoInputError } from "./errors.ts";

interface XmlElement {
  readonly name: string;
  readonly attributes: Map<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/** A tiny XML well-formedness check: balanced tags, quoted unique attributes, known entities, one root.
 *  Returns the element tree (text decoded) or throws naming the offset of the first error. */
function parseXml(source: string): XmlElement {
  const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  const decode = (raw: string, at: number): string => {
    if (/<|&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(raw)) throw new Error(`bad character data near ${at}`);
    return raw.replace(/&(\w+);/g, (_, name: string) => entities[name]);
  };
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = source.startsWith("<?xml") ? source.indexOf("?>") + 2 : 0;
  while (i < source.length) {
    const lt = source.indexOf("<", i);
    const textEnd = lt === -1 ? source.length : lt;
    const text = source.slice(i, textEnd);
    if (text.trim() !== "") {
      if (stack.length === 0) throw new Error(`text outside the root near ${i}`);
      stack[stack.length - 1].text += decode(text, i);
    }
    if (lt === -1) break;
    const gt = source.indexOf(">", lt);
    if (gt === -1) throw new Error(`unterminated tag at ${lt}`);
    const tag = source.slice(lt + 1, gt);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> at ${lt} closes <${open?.name}>`);
    } else {
      const selfClosing = tag.endsWith("/");
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const nameMatch = /^([A-Za-z_][\w:.-]*)/.exec(body);
      if (!nameMatch) throw new Error(`bad tag name at ${lt}`);
      const attributes = new Map<string, string>();
      let rest = body.slice(nameMatch[1].length);
      const attributePattern = /^\s+([A-Za-z_][\w:.-]*)="([^"]*)"/;
      for (let m = attributePattern.exec(rest); m; m = attributePattern.exec(rest)) {
        if (attributes.has(m[1])) throw new Error(`duplicate attribute ${m[1]} at ${lt}`);
        attributes.set(m[1], decode(m[2], lt));
        rest = rest.slice(m[0].length);
      }
      if (rest.trim() !== "") throw new Error(`malformed attributes "${rest}" at ${lt}`);
      const element: XmlElement = { name: nameMatch[1], attributes, children: [], text: "" };
      if (stack.length > 0) stack[stack.length - 1].children.push(element);
      else if (root) throw new Error(`second root element at ${lt}`);
      else root = element;
      if (!selfClosing) stack.push(element);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) throw new Error("no root element");
  return root;
}

function allElements(element: XmlElement): XmlElement[] {
  return [element, ...element.children.flatMap(allElements)];
}

test("the XML checker itself rejects malformed documents", () => {
  assert.throws(() => parseXml("<svg><g></svg>"), /closes <g>/);
  assert.throws(() => parseXml('<svg a="1" a="2"/>'), /duplicate attribute/);
  assert.throws(() => parseXml("<svg>a & b</svg>"), /bad character data/);
  assert.throws(() => parseXml("<svg a=1/>"), /malformed attributes/);
  assert.throws(() => parseXml("<svg/><svg/>"), /second root/);
  assert.equal(parseXml("<svg><text>a &amp; b</text></svg>").children[0].text, "a & b");
});

function sweepReport(k: number, withBaselines: boolean) {
  const grid = simplexGrid(k, k === 2 ? 0.1 : 0.5);
  const points = grid.map((alpha, i) => ({
    alpha,
    rewards: alpha.map((a, d) => Math.sqrt(a) * (d + 1) - (i === 2 ? 0.4 : 0)),
  }));
  const names = ["harm & safety <cost>", "helpfulness", "humor", "brevity"].slice(0, k);
  return buildParetoReport(points, {
    objectiveNames: names,
    rule: { rule: "min-minus-margin", margin: 0.1 },
    baselines: withBaselines
      ? [
          { name: "base model", rewards: new Array<number>(k).fill(0.1) },
          { name: "GenARM", rewards: new Array<number>(k).fill(0.5), alpha: new Array<number>(k).fill(1 / k) },
        ]
      : [],
  });
}

test("k = 2: well-formed SVG with axes, ticks, names, every α label, a step-line front, baselines and legend", () => {
  const report = sweepReport(2, true);
  const svg = renderParetoSvg(report, { title: "PARM on PKU-SafeRLHF" });
  const root = parseXml(svg);
  assert.equal(root.name, "svg");
  assert.equal(root.attributes.get("xmlns"), "http://www.w3.org/2000/svg");
  const elements = allElements(root);
  const texts = elements.filter((e) => e.name === "text").map((e) => e.text);
  for (const p of report.points) assert.ok(texts.includes(p.label), `label ${p.label}`);
  assert.ok(texts.includes("(0.3, 0.7)"));
  assert.ok(texts.includes("harm & safety <cost>"), "x axis name, escaped in the source and decoded back");
  assert.ok(svg.includes("harm &amp; safety &lt;cost&gt;"));
  assert.ok(texts.includes("helpfulness"));
  assert.ok(texts.includes("PARM on PKU-SafeRLHF"));
  assert.ok(texts.some((t) => t.startsWith("HV = ") && t.includes("MIP = ")));
  // Ticks: at least three numeric labels per axis.
  assert.ok(texts.filter((t) => /^-?\d+(\.\d+)?$/.test(t)).length >= 6);
  // Legend lists the baselines by name; markers differ between series (rect vs polygon).
  assert.ok(texts.some((t) => t.startsWith("base model (HV")));
  assert.ok(texts.some((t) => t.startsWith("GenARM (HV")));
  assert.ok(texts.includes("GenARM (0.5, 0.5)"));
  const front = elements.filter((e) => e.name === "path" && e.attributes.get("class") === "pareto-front");
  assert.equal(front.length, 1);
  // Step line: each front point contributes one vertex plus one corner, plus the two ends at z.
  const vertices = front[0].attributes.get("d")!.split(" ");
  assert.equal(vertices.length, 2 * report.front.length + 1);
  // Staircase: consecutive segments alternate horizontal and vertical.
  const coords = vertices.map((v) => v.slice(1).split(",").map(Number));
  for (let i = 1; i < coords.length; i++) {
    const horizontal = coords[i][1] === coords[i - 1][1];
    const vertical = coords[i][0] === coords[i - 1][0];
    assert.ok(horizontal || vertical, `segment ${i} is axis-aligned`);
  }
  assert.equal(elements.filter((e) => e.name === "circle" && e.attributes.get("fill") !== "#ffffff").length - 1, report.front.length);
});

test("k = 3 and k = 4: one projection panel per pair, labels in each, no step line", () => {
  for (const k of [3, 4]) {
    const report = sweepReport(k, k === 3);
    const root = parseXml(renderParetoSvg(report));
    const elements = allElements(root);
    const panels = elements.filter((e) => e.name === "g" && e.attributes.get("class") === "panel");
    assert.equal(panels.length, (k * (k - 1)) / 2);
    const labels = elements.filter((e) => e.name === "text" && e.attributes.get("class") === "alpha-label");
    assert.equal(labels.length, panels.length * report.points.length);
    assert.equal(elements.filter((e) => e.attributes.get("class") === "pareto-front").length, 0);
    for (const name of report.objectiveNames) assert.ok(elements.some((e) => e.name === "text" && e.text === name));
  }
});

test("plot refuses k = 1 and tiny panels", () => {
  const report = buildParetoReport([{ alpha: [1], rewards: [2] }], { objectiveNames: ["only"] });
  assert.throws(() => renderParetoSvg(report), (e: unknown) => e instanceof ParetoInputError && e.code === "INVALID_PLOT_OPTIONS");
  assert.throws(
    () => renderParetoSvg(sweepReport(2, false), { panelWidth: 10 }),
    (e: unknown) => e instanceof ParetoInputError && /panelWidth must be a number/.test(e.message),
  );
});
